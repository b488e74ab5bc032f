// A cluster as the data path sees it: plain C++ built from envoy.config.cluster.v3.Cluster by
// proxy/config. Immutable once built; workers share it through shared_ptr<const ClusterConfig>.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "http/http2_options.h"

namespace weft::upstream {

using Milliseconds = std::chrono::milliseconds;

enum class DiscoveryType { kStatic, kStrictDns, kLogicalDns, kOriginalDst, kEds };
enum class LbPolicy { kRoundRobin, kLeastRequest, kRandom, kRingHash, kMaglev, kClusterProvided };
enum class DnsLookupFamily { kAuto, kV4Only, kV6Only, kV4Preferred, kAll };
enum class UpstreamProtocol { kHttp1, kHttp2, kUseDownstream };

// envoy.config.endpoint.v3.LbEndpoint: for STATIC an IP literal; for the DNS types a host name.
struct EndpointConfig {
  std::string address;
  uint32_t port = 0;
  uint32_t weight = 1;   // load_balancing_weight
  std::string hostname;  // endpoint.hostname, used for auto_host_rewrite
};

// envoy.config.endpoint.v3.LocalityLbEndpoints.
struct LocalityEndpoints {
  std::string region, zone, sub_zone;
  uint32_t priority = 0;
  uint32_t load_balancing_weight = 0;  // 0 = unset
  std::vector<EndpointConfig> endpoints;
};

struct RingHashConfig {
  uint64_t minimum_ring_size = 1024;  // Envoy's defaults
  uint64_t maximum_ring_size = 8388608;
};

struct MaglevConfig {
  uint64_t table_size = 65537;  // must be prime
};

struct LeastRequestConfig {
  uint32_t choice_count = 2;
};

struct ClusterConfig {
  std::string name;
  std::string alt_stat_name;
  DiscoveryType type = DiscoveryType::kStatic;
  LbPolicy lb_policy = LbPolicy::kRoundRobin;
  Milliseconds connect_timeout{5000};
  std::vector<LocalityEndpoints> localities;  // load_assignment.endpoints

  // DNS (STRICT_DNS, LOGICAL_DNS).
  Milliseconds dns_refresh_rate{5000};
  bool respect_dns_ttl = false;
  DnsLookupFamily dns_lookup_family = DnsLookupFamily::kAuto;
  std::vector<std::string> dns_resolvers;  // "ip:port"; empty = system resolv.conf

  RingHashConfig ring_hash;
  MaglevConfig maglev;
  LeastRequestConfig least_request;

  // Connection handling.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  std::optional<uint32_t> max_requests_per_connection;
  Milliseconds upstream_idle_timeout{3600 * 1000};  // common_http_protocol_options.idle_timeout
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  http::Http2Options http2;  // http2_protocol_options (explicit or deprecated cluster field)

  // ORIGINAL_DST.
  std::optional<std::string> original_dst_http_header;  // use_http_header / http_header_name
  Milliseconds cleanup_interval{5000};
};

}  // namespace weft::upstream
