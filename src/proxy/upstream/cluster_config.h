// A cluster as the data path sees it: plain C++ built from envoy.config.cluster.v3.Cluster by
// proxy/config. Immutable once built; workers share it through shared_ptr<const ClusterConfig>.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/http2_options.h"
#include "proxy/upstream/resource_manager.h"

namespace weft::tls {
class TlsContext;
}

namespace weft::upstream {

using Milliseconds = std::chrono::milliseconds;

enum class DiscoveryType { kStatic, kStrictDns, kLogicalDns, kOriginalDst, kEds };
enum class LbPolicy {
  kRoundRobin,
  kLeastRequest,
  kRandom,
  kRingHash,
  kMaglev,
  kClusterProvided,
  kPeakEwma,  // selected through load_balancing_policy (see peak_ewma_lb.h)
};
enum class DnsLookupFamily { kAuto, kV4Only, kV6Only, kV4Preferred, kAll };
enum class UpstreamProtocol { kHttp1, kHttp2, kUseDownstream };

// Struct fields as name -> the value's JSON text: equal values compare equal (Envoy compares
// the protobuf Values).
using TransportSocketMatchMetadata = std::map<std::string, std::string>;

// envoy.config.cluster.v3.Cluster.TransportSocketMatch.
struct TransportSocketMatch {
  std::string name;
  TransportSocketMatchMetadata match;    // every field must equal the endpoint's; empty matches all
  std::shared_ptr<tls::TlsContext> tls;  // null: envoy.transport_sockets.raw_buffer (plaintext)
};

// envoy.config.endpoint.v3.LbEndpoint: for STATIC an IP literal; for the DNS types a host name.
struct EndpointConfig {
  std::string address;
  uint32_t port = 0;
  uint32_t weight = 1;   // load_balancing_weight
  std::string hostname;  // endpoint.hostname, used for auto_host_rewrite
  // metadata.filter_metadata["envoy.transport_socket_match"]: field -> value as JSON text
  // (a string value "istio" is "\"istio\""), compared with the cluster's
  // transport_socket_matches.
  TransportSocketMatchMetadata transport_socket_match;
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

// envoy.config.core.v3.HealthCheck (one per cluster; Weft runs the first of health_checks).
// Defaults from envoy/config/core/v3/health_check.proto's comments.
struct HealthCheckConfig {
  enum class Kind { kHttp, kTcp, kGrpc };
  Kind kind = Kind::kHttp;
  Milliseconds timeout{1000};
  Milliseconds interval{10000};
  Milliseconds initial_jitter{0};
  Milliseconds interval_jitter{0};
  uint32_t interval_jitter_percent = 0;
  uint32_t unhealthy_threshold = 1;
  uint32_t healthy_threshold = 1;
  std::optional<Milliseconds> unhealthy_interval;       // default: interval
  std::optional<Milliseconds> unhealthy_edge_interval;  // default: unhealthy_interval
  std::optional<Milliseconds> healthy_edge_interval;    // default: interval
  bool reuse_connection = true;

  // http_health_check
  std::string host;  // empty: the cluster's name
  std::string path;
  std::vector<std::pair<int64_t, int64_t>> expected_statuses;  // [start, end); empty: 200 only
  std::vector<std::pair<std::string, std::string>> request_headers_to_add;
  // tcp_health_check: raw bytes (decoded from the config's hex text). Empty send = connect only.
  std::string send;
  std::vector<std::string> receive;
  // grpc_health_check
  std::string service_name;
  std::string authority;  // empty: the cluster's name
};

// envoy.config.cluster.v3.OutlierDetection; defaults from its proto comments.
struct OutlierDetectionConfig {
  uint32_t consecutive_5xx = 5;
  uint32_t consecutive_gateway_failure = 5;
  uint32_t consecutive_local_origin_failure = 5;
  Milliseconds interval{10000};
  Milliseconds base_ejection_time{30000};
  Milliseconds max_ejection_time{300000};
  uint32_t max_ejection_percent = 10;
  bool always_eject_one_host = false;
  bool split_external_local_origin_errors = false;
  uint32_t enforcing_consecutive_5xx = 100;
  uint32_t enforcing_consecutive_gateway_failure = 0;
  uint32_t enforcing_consecutive_local_origin_failure = 100;
  uint32_t enforcing_success_rate = 100;
  uint32_t enforcing_local_origin_success_rate = 100;
  uint32_t enforcing_failure_percentage = 0;
  uint32_t enforcing_failure_percentage_local_origin = 0;
  uint32_t success_rate_minimum_hosts = 5;
  uint32_t success_rate_request_volume = 100;
  uint32_t success_rate_stdev_factor = 1900;  // thousandths: 1900 = 1.9
  uint32_t failure_percentage_threshold = 85;
  uint32_t failure_percentage_minimum_hosts = 5;
  uint32_t failure_percentage_request_volume = 50;
  bool successful_active_health_check_uneject_host = true;
};

// Defaults are linkerd2-proxy's (EWMA_DECAY, EWMA_DEFAULT_RTT in linkerd/app/outbound/src/lib.rs).
struct PeakEwmaConfig {
  std::chrono::nanoseconds decay_time = std::chrono::seconds(10);
  std::chrono::nanoseconds default_rtt = std::chrono::milliseconds(30);
};

struct ClusterConfig {
  std::string name;
  // Cluster.filters' istio.metadata_exchange: the ALPN on which tcp_proxy connections to this
  // cluster exchange workload metadata with the peer sidecar; "" = none.
  std::string metadata_exchange_protocol;
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
  PeakEwmaConfig peak_ewma;
  // common_lb_config.locality_weighted_lb_config (or a policy's locality_lb_config): pick a
  // locality by its load_balancing_weight first, then a host in it (locality_lb.h).
  bool locality_weighted_lb = false;

  // Connection handling.
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  // transport_socket envoy.transport_sockets.tls (UpstreamTlsContext); null = plaintext.
  std::shared_ptr<tls::TlsContext> tls;
  // transport_socket_matches: a host takes the first whose `match` its metadata satisfies, else
  // `tls` above (cluster.proto TransportSocketMatch).
  std::vector<TransportSocketMatch> transport_socket_matches;
  std::optional<uint32_t> max_requests_per_connection;
  Milliseconds upstream_idle_timeout{3600 * 1000};  // common_http_protocol_options.idle_timeout
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  http::Http2Options http2;  // http2_protocol_options (explicit or deprecated cluster field)

  // Circuit breakers: the DEFAULT priority's thresholds (routes here are all DEFAULT priority),
  // and the live counts they are checked against, shared by every worker using this config.
  CircuitBreakerThresholds circuit_breakers;
  std::shared_ptr<ResourceManager> resources =
      std::make_shared<ResourceManager>(CircuitBreakerThresholds{});
  // Health. common_lb_config.healthy_panic_threshold (percent, Envoy's default 50) and
  // load_assignment.policy.overprovisioning_factor (percent, Envoy's default 140).
  double healthy_panic_threshold = 50;
  uint32_t overprovisioning_factor = 140;
  std::optional<HealthCheckConfig> health_check;
  std::optional<OutlierDetectionConfig> outlier_detection;

  // EDS: the name the cluster's ClusterLoadAssignment is requested by
  // (eds_cluster_config.service_name; Envoy's default is the cluster's name).
  std::string eds_service_name;

  // ORIGINAL_DST.
  std::optional<std::string> original_dst_http_header;  // use_http_header / http_header_name
  Milliseconds cleanup_interval{5000};
};

}  // namespace weft::upstream
