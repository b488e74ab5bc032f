// envoy.config.cluster.v3.Cluster -> upstream::ClusterConfig.
#include <google/protobuf/util/json_util.h>

#include "base/status.h"
#include "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/translate_health.h"
#include "proxy/config/translate_lb_policy.h"
#include "proxy/config/translate_metadata_exchange.h"
#include "proxy/config/translate_tls.h"

// Weft accepts Envoy's deprecated spellings (they are still valid v3 config), so reading them
// here is intended.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace weft::config {
namespace {

namespace cluster = envoy::config::cluster::v3;
namespace core = envoy::config::core::v3;
namespace uphttp = envoy::extensions::upstreams::http::v3;

std::string ResolverAddress(const HostPort& hp) {
  return hp.address.find(':') == std::string::npos ? Cat(hp.address, ":", hp.port)
                                                   : Cat("[", hp.address, "]:", hp.port);
}

absl::StatusOr<std::string> TranslateResolver(const core::Address& a, std::string_view path) {
  ASSIGN_OR_RETURN(HostPort hp, TranslateSocketAddress(a, path));
  if (!IsIpLiteral(hp.address)) {
    return ConfigError(FieldPath(path, "socket_address.address"), "'", hp.address,
                       "' is not an IP address");
  }
  if (hp.port == 0) hp.port = 53;
  return ResolverAddress(hp);
}

// Cluster-level HTTP options share core.v3 messages with the HCM; only part applies upstream.
absl::Status ApplyCommonHttpOptions(const core::HttpProtocolOptions& o, std::string_view path,
                                    upstream::ClusterConfig& out) {
  if (o.has_max_headers_count()) {
    return ConfigError(FieldPath(path, "max_headers_count"), "not supported for clusters");
  }
  if (o.has_max_connection_duration()) {
    return ConfigError(FieldPath(path, "max_connection_duration"), "not supported for clusters");
  }
  if (o.has_idle_timeout()) out.upstream_idle_timeout = ToMilliseconds(o.idle_timeout());
  if (o.has_max_requests_per_connection()) {
    out.max_requests_per_connection = o.max_requests_per_connection().value();
  }
  return absl::OkStatus();
}

absl::Status CheckHttp1Options(const core::Http1ProtocolOptions& o, std::string_view path) {
  if (o.allow_chunked_length()) {
    return ConfigError(FieldPath(path, "allow_chunked_length"), "not supported for clusters");
  }
  return absl::OkStatus();
}

absl::Status ApplyUpstreamHttpOptions(const uphttp::HttpProtocolOptions& o, std::string_view path,
                                      upstream::ClusterConfig& out) {
  if (o.has_common_http_protocol_options()) {
    RETURN_IF_ERROR(ApplyCommonHttpOptions(o.common_http_protocol_options(),
                                           FieldPath(path, "common_http_protocol_options"), out));
  }
  switch (o.upstream_protocol_options_case()) {
    case uphttp::HttpProtocolOptions::kExplicitHttpConfig: {
      const auto& e = o.explicit_http_config();
      const std::string e_path = FieldPath(path, "explicit_http_config");
      if (e.has_http2_protocol_options()) {
        out.protocol = upstream::UpstreamProtocol::kHttp2;
        ASSIGN_OR_RETURN(out.http2,
                         TranslateHttp2Options(e.http2_protocol_options(),
                                               FieldPath(e_path, "http2_protocol_options")));
      } else if (e.has_http_protocol_options()) {
        RETURN_IF_ERROR(CheckHttp1Options(e.http_protocol_options(),
                                          FieldPath(e_path, "http_protocol_options")));
        out.protocol = upstream::UpstreamProtocol::kHttp1;
      } else {
        return ConfigError(e_path, "needs http_protocol_options or http2_protocol_options");
      }
      break;
    }
    case uphttp::HttpProtocolOptions::kUseDownstreamProtocolConfig: {
      const auto& d = o.use_downstream_protocol_config();
      if (d.has_http_protocol_options()) {
        RETURN_IF_ERROR(CheckHttp1Options(
            d.http_protocol_options(),
            FieldPath(path, "use_downstream_protocol_config.http_protocol_options")));
      }
      if (d.has_http2_protocol_options()) {
        ASSIGN_OR_RETURN(
            out.http2,
            TranslateHttp2Options(
                d.http2_protocol_options(),
                FieldPath(path, "use_downstream_protocol_config.http2_protocol_options")));
      }
      out.protocol = upstream::UpstreamProtocol::kUseDownstream;
      break;
    }
    default:
      return ConfigError(path, "needs explicit_http_config or use_downstream_protocol_config");
  }
  return absl::OkStatus();
}

// Envoy's metadata key for transport_socket_matches (cluster.proto TransportSocketMatch: "the
// endpoint's metadata entry in envoy.transport_socket_match").
constexpr char kTransportSocketMatchKey[] = "envoy.transport_socket_match";

// Struct -> field name -> the value's JSON text, so equal protobuf Values compare equal.
absl::StatusOr<upstream::TransportSocketMatchMetadata> StructFields(
    const google::protobuf::Struct& s, std::string_view path) {
  upstream::TransportSocketMatchMetadata out;
  for (const auto& [key, value] : s.fields()) {
    std::string text;
    if (!google::protobuf::util::MessageToJsonString(value, &text).ok()) {
      return ConfigError(Cat(path, ".", key), "cannot be read");
    }
    out[key] = std::move(text);
  }
  return out;
}

absl::Status TranslateLoadAssignment(const envoy::config::endpoint::v3::ClusterLoadAssignment& la,
                                     std::string_view path, upstream::ClusterConfig& out) {
  for (int i = 0; i < la.endpoints_size(); ++i) {
    const auto& l = la.endpoints(i);
    const std::string l_path = IndexPath(path, "endpoints", i);
    upstream::LocalityEndpoints locality;
    locality.region = l.locality().region();
    locality.zone = l.locality().zone();
    locality.sub_zone = l.locality().sub_zone();
    locality.priority = l.priority();
    if (l.has_load_balancing_weight()) {
      if (l.load_balancing_weight().value() < 1) {
        return ConfigError(FieldPath(l_path, "load_balancing_weight"), "must be at least 1");
      }
      locality.load_balancing_weight = l.load_balancing_weight().value();
    }
    for (int j = 0; j < l.lb_endpoints_size(); ++j) {
      const auto& e = l.lb_endpoints(j);
      const std::string e_path = IndexPath(l_path, "lb_endpoints", j);
      if (!e.has_endpoint()) return ConfigError(FieldPath(e_path, "endpoint"), "is required");
      const std::string a_path = FieldPath(e_path, "endpoint.address");
      ASSIGN_OR_RETURN(HostPort hp, TranslateSocketAddress(e.endpoint().address(), a_path));
      if (out.type == upstream::DiscoveryType::kStatic && !IsIpLiteral(hp.address)) {
        return ConfigError(FieldPath(a_path, "socket_address.address"), "'", hp.address,
                           "': STATIC cluster endpoints must be IP addresses");
      }
      if (hp.port == 0) {
        return ConfigError(FieldPath(a_path, "socket_address.port_value"), "is required");
      }
      upstream::EndpointConfig endpoint;
      endpoint.address = std::move(hp.address);
      endpoint.port = hp.port;
      endpoint.hostname = e.endpoint().hostname();
      if (e.has_load_balancing_weight()) {
        if (e.load_balancing_weight().value() < 1) {
          return ConfigError(FieldPath(e_path, "load_balancing_weight"), "must be at least 1");
        }
        endpoint.weight = e.load_balancing_weight().value();
      }
      const auto& filter_metadata = e.metadata().filter_metadata();
      if (auto md = filter_metadata.find(kTransportSocketMatchKey); md != filter_metadata.end()) {
        ASSIGN_OR_RETURN(endpoint.transport_socket_match,
                         StructFields(md->second, Cat(FieldPath(e_path, "metadata.filter_metadata"),
                                                      "[", kTransportSocketMatchKey, "]")));
      }
      locality.endpoints.push_back(std::move(endpoint));
    }
    out.localities.push_back(std::move(locality));
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

namespace {

// CircuitBreakers: the DEFAULT priority's thresholds. Every route here is DEFAULT priority, so a
// HIGH threshold would never apply: refused rather than silently ignored.
absl::Status ApplyCircuitBreakers(const cluster::CircuitBreakers& cb, std::string_view path,
                                  upstream::ClusterConfig& out) {
  for (int i = 0; i < cb.thresholds_size(); ++i) {
    const auto& t = cb.thresholds(i);
    const std::string t_path = IndexPath(path, "thresholds", i);
    if (t.priority() != envoy::config::core::v3::DEFAULT) {
      return ConfigError(FieldPath(t_path, "priority"),
                         "only DEFAULT is supported (routes have no priority)");
    }
    upstream::CircuitBreakerThresholds& th = out.circuit_breakers;
    if (t.has_max_connections()) th.max_connections = t.max_connections().value();
    if (t.has_max_pending_requests()) th.max_pending_requests = t.max_pending_requests().value();
    if (t.has_max_requests()) th.max_requests = t.max_requests().value();
    if (t.has_max_retries()) th.max_retries = t.max_retries().value();
    if (t.has_retry_budget()) {
      upstream::CircuitBreakerThresholds::RetryBudget budget;
      if (t.retry_budget().has_budget_percent()) {
        budget.budget_percent = t.retry_budget().budget_percent().value();
        if (budget.budget_percent < 0 || budget.budget_percent > 100) {
          return ConfigError(FieldPath(t_path, "retry_budget.budget_percent"),
                             "must be in [0, 100]");
        }
      }
      if (t.retry_budget().has_min_retry_concurrency()) {
        budget.min_retry_concurrency = t.retry_budget().min_retry_concurrency().value();
      }
      th.retry_budget = budget;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<upstream::ClusterConfig> TranslateClusterUnchecked(const cluster::Cluster& p,
                                                                  std::string_view path) {
  upstream::ClusterConfig out;
  out.name = p.name();
  if (out.name.empty()) return ConfigError(FieldPath(path, "name"), "is required");
  out.alt_stat_name = p.alt_stat_name();
  switch (p.type()) {
    case cluster::Cluster::STATIC:
      out.type = upstream::DiscoveryType::kStatic;
      break;
    case cluster::Cluster::STRICT_DNS:
      out.type = upstream::DiscoveryType::kStrictDns;
      break;
    case cluster::Cluster::LOGICAL_DNS:
      out.type = upstream::DiscoveryType::kLogicalDns;
      break;
    case cluster::Cluster::EDS:
      out.type = upstream::DiscoveryType::kEds;
      break;
    case cluster::Cluster::ORIGINAL_DST:
      out.type = upstream::DiscoveryType::kOriginalDst;
      break;
    default:
      return ConfigError(FieldPath(path, "type"), "unknown discovery type");
  }
  switch (p.lb_policy()) {
    case cluster::Cluster::ROUND_ROBIN:
      out.lb_policy = upstream::LbPolicy::kRoundRobin;
      break;
    case cluster::Cluster::LEAST_REQUEST:
      out.lb_policy = upstream::LbPolicy::kLeastRequest;
      break;
    case cluster::Cluster::RANDOM:
      out.lb_policy = upstream::LbPolicy::kRandom;
      break;
    case cluster::Cluster::RING_HASH:
      out.lb_policy = upstream::LbPolicy::kRingHash;
      break;
    case cluster::Cluster::MAGLEV:
      out.lb_policy = upstream::LbPolicy::kMaglev;
      break;
    case cluster::Cluster::CLUSTER_PROVIDED:
      out.lb_policy = upstream::LbPolicy::kClusterProvided;
      break;
    case cluster::Cluster::LOAD_BALANCING_POLICY_CONFIG:  // deprecated: load_balancing_policy
                                                          // decides
      break;
    default:
      return ConfigError(FieldPath(path, "lb_policy"), "not supported");
  }
  RETURN_IF_ERROR(TranslateLbPolicy(p, path, out));
  // Envoy pairs ORIGINAL_DST clusters with CLUSTER_PROVIDED and refuses the rest.
  if ((out.type == upstream::DiscoveryType::kOriginalDst) !=
      (out.lb_policy == upstream::LbPolicy::kClusterProvided)) {
    return ConfigError(FieldPath(path, "lb_policy"),
                       "CLUSTER_PROVIDED goes with (and only with) type ORIGINAL_DST");
  }
  if (p.has_connect_timeout()) {
    out.connect_timeout = ToMilliseconds(p.connect_timeout());
    if (out.connect_timeout.count() <= 0) {
      return ConfigError(FieldPath(path, "connect_timeout"), "must be greater than 0");
    }
  }

  if (p.has_load_assignment()) {
    if (out.type == upstream::DiscoveryType::kOriginalDst &&
        p.load_assignment().endpoints_size() > 0) {
      return ConfigError(FieldPath(path, "load_assignment"),
                         "ORIGINAL_DST clusters take no endpoints");
    }
    RETURN_IF_ERROR(
        TranslateLoadAssignment(p.load_assignment(), FieldPath(path, "load_assignment"), out));
  }
  if (out.type == upstream::DiscoveryType::kEds) {
    out.eds_service_name = p.eds_cluster_config().service_name();
    if (out.eds_service_name.empty()) out.eds_service_name = out.name;
    if (p.eds_cluster_config().has_eds_config() && !p.eds_cluster_config().eds_config().has_ads()) {
      return ConfigError(FieldPath(path, "eds_cluster_config.eds_config"),
                         "only ads: {} is supported (endpoints come over the ADS stream)");
    }
  } else if (p.has_eds_cluster_config()) {
    return ConfigError(FieldPath(path, "eds_cluster_config"), "needs type: EDS");
  }
  if (out.type == upstream::DiscoveryType::kLogicalDns) {
    size_t n = 0;
    for (const auto& l : out.localities) n += l.endpoints.size();
    if (n != 1) {
      return ConfigError(FieldPath(path, "load_assignment"),
                         "LOGICAL_DNS clusters need exactly one endpoint");
    }
  }

  if (p.has_dns_refresh_rate()) {
    out.dns_refresh_rate = ToMilliseconds(p.dns_refresh_rate());
    if (out.dns_refresh_rate.count() < 1) {
      return ConfigError(FieldPath(path, "dns_refresh_rate"), "must be at least 1ms");
    }
  }
  out.respect_dns_ttl = p.respect_dns_ttl();
  switch (p.dns_lookup_family()) {
    case cluster::Cluster::V4_ONLY:
      out.dns_lookup_family = upstream::DnsLookupFamily::kV4Only;
      break;
    case cluster::Cluster::V6_ONLY:
      out.dns_lookup_family = upstream::DnsLookupFamily::kV6Only;
      break;
    case cluster::Cluster::V4_PREFERRED:
      out.dns_lookup_family = upstream::DnsLookupFamily::kV4Preferred;
      break;
    case cluster::Cluster::ALL:
      out.dns_lookup_family = upstream::DnsLookupFamily::kAll;
      break;
    default:
      out.dns_lookup_family = upstream::DnsLookupFamily::kAuto;
  }
  for (int i = 0; i < p.dns_resolvers_size(); ++i) {
    ASSIGN_OR_RETURN(std::string r,
                     TranslateResolver(p.dns_resolvers(i), IndexPath(path, "dns_resolvers", i)));
    out.dns_resolvers.push_back(std::move(r));
  }
  if (p.has_typed_dns_resolver_config()) {
    const std::string r_path = FieldPath(path, "typed_dns_resolver_config");
    const auto& t = p.typed_dns_resolver_config();
    ASSIGN_OR_RETURN(const KnownExtension* ext,
                     ResolveExtension(t.name(), t.has_typed_config() ? &t.typed_config() : nullptr,
                                      ExtensionKind::kDnsResolver, r_path));
    (void)ext;
    if (t.has_typed_config()) {
      const std::string c_path = FieldPath(r_path, "typed_config");
      ASSIGN_OR_RETURN(
          auto cares,
          Unpack<envoy::extensions::network::dns_resolver::cares::v3::CaresDnsResolverConfig>(
              t.typed_config(), c_path));
      for (int i = 0; i < cares.resolvers_size(); ++i) {
        ASSIGN_OR_RETURN(std::string r,
                         TranslateResolver(cares.resolvers(i), IndexPath(c_path, "resolvers", i)));
        out.dns_resolvers.push_back(std::move(r));
      }
    }
  }

  if (p.has_ring_hash_lb_config()) {
    const auto& r = p.ring_hash_lb_config();
    if (r.has_minimum_ring_size()) out.ring_hash.minimum_ring_size = r.minimum_ring_size().value();
    if (r.has_maximum_ring_size()) out.ring_hash.maximum_ring_size = r.maximum_ring_size().value();
    RETURN_IF_ERROR(CheckRingHash(out.ring_hash, FieldPath(path, "ring_hash_lb_config")));
  }
  if (p.has_maglev_lb_config() && p.maglev_lb_config().has_table_size()) {
    out.maglev.table_size = p.maglev_lb_config().table_size().value();
    RETURN_IF_ERROR(CheckMaglevTableSize(out.maglev.table_size,
                                         FieldPath(path, "maglev_lb_config.table_size")));
  }
  if (p.has_least_request_lb_config() && p.least_request_lb_config().has_choice_count()) {
    out.least_request.choice_count = p.least_request_lb_config().choice_count().value();
    RETURN_IF_ERROR(CheckChoiceCount(out.least_request.choice_count,
                                     FieldPath(path, "least_request_lb_config")));
  }
  if (p.has_original_dst_lb_config()) {
    if (out.type != upstream::DiscoveryType::kOriginalDst) {
      return ConfigError(FieldPath(path, "original_dst_lb_config"),
                         "applies to ORIGINAL_DST clusters only");
    }
    const auto& o = p.original_dst_lb_config();
    if (o.use_http_header()) {
      // Envoy's default header when http_header_name is empty.
      out.original_dst_http_header = o.http_header_name().empty()
                                         ? "x-envoy-original-dst-host"
                                         : absl::AsciiStrToLower(o.http_header_name());
    }
  }

  if (p.has_per_connection_buffer_limit_bytes()) {
    out.per_connection_buffer_limit_bytes = p.per_connection_buffer_limit_bytes().value();
  }
  if (p.has_max_requests_per_connection()) {  // deprecated spelling
    out.max_requests_per_connection = p.max_requests_per_connection().value();
  }
  if (p.has_common_http_protocol_options()) {
    RETURN_IF_ERROR(ApplyCommonHttpOptions(p.common_http_protocol_options(),
                                           FieldPath(path, "common_http_protocol_options"), out));
  }
  if (p.has_http2_protocol_options()) {  // deprecated: HTTP/2 to the upstream
    out.protocol = upstream::UpstreamProtocol::kHttp2;
    ASSIGN_OR_RETURN(out.http2, TranslateHttp2Options(p.http2_protocol_options(),
                                                      FieldPath(path, "http2_protocol_options")));
  }
  for (const auto& [key, any] : p.typed_extension_protocol_options()) {
    const std::string o_path =
        Cat(FieldPath(path, "typed_extension_protocol_options"), "[", key, "]");
    ASSIGN_OR_RETURN(const KnownExtension* ext,
                     ResolveExtension(key, &any, ExtensionKind::kUpstreamProtocolOptions, o_path));
    (void)ext;
    ASSIGN_OR_RETURN(uphttp::HttpProtocolOptions options,
                     Unpack<uphttp::HttpProtocolOptions>(any, o_path));
    RETURN_IF_ERROR(ApplyUpstreamHttpOptions(options, o_path, out));
  }
  // An HTTP/2 cluster offers h2 by ALPN unless the context names its own protocols.
  std::vector<std::string> alpn;
  if (out.protocol == upstream::UpstreamProtocol::kHttp2) alpn = {"h2"};
  if (p.has_transport_socket()) {
    ASSIGN_OR_RETURN(out.tls, TranslateTransportSocket(p.transport_socket(), /*server=*/false,
                                                       FieldPath(path, "transport_socket"), alpn));
  }
  for (int i = 0; i < p.transport_socket_matches_size(); ++i) {
    const auto& m = p.transport_socket_matches(i);
    const std::string m_path = IndexPath(path, "transport_socket_matches", i);
    upstream::TransportSocketMatch match;
    match.name = m.name();
    if (match.name.empty()) return ConfigError(FieldPath(m_path, "name"), "is required");
    for (const auto& seen : out.transport_socket_matches) {
      if (seen.name == match.name) {
        return ConfigError(FieldPath(m_path, "name"), "'", match.name, "' is used twice");
      }
    }
    ASSIGN_OR_RETURN(match.match, StructFields(m.match(), FieldPath(m_path, "match")));
    if (!m.has_transport_socket()) {
      return ConfigError(FieldPath(m_path, "transport_socket"), "is required");
    }
    ASSIGN_OR_RETURN(match.tls,
                     TranslateTransportSocket(m.transport_socket(), /*server=*/false,
                                              FieldPath(m_path, "transport_socket"), alpn));
    out.transport_socket_matches.push_back(std::move(match));
  }
  for (int i = 0; i < p.filters_size(); ++i) {
    // Only Istio's metadata exchange is implemented as a cluster filter.
    const auto& f = p.filters(i);
    const std::string f_path = IndexPath(path, "filters", i);
    RETURN_IF_ERROR(ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                                     ExtensionKind::kUpstreamNetworkFilter, f_path)
                        .status());
    if (!out.metadata_exchange_protocol.empty()) {
      return ConfigError(f_path, "istio.metadata_exchange is given twice");
    }
    ASSIGN_OR_RETURN(
        out.metadata_exchange_protocol,
        TranslateMetadataExchange(f.has_typed_config() ? &f.typed_config() : nullptr, f_path));
  }
  RETURN_IF_ERROR(TranslateClusterHealth(p, path, out));
  if (p.has_circuit_breakers()) {
    RETURN_IF_ERROR(
        ApplyCircuitBreakers(p.circuit_breakers(), FieldPath(path, "circuit_breakers"), out));
  }
  out.resources = std::make_shared<upstream::ResourceManager>(out.circuit_breakers);
  return out;
}

}  // namespace internal

absl::StatusOr<std::vector<upstream::LocalityEndpoints>> TranslateClusterLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& proto, std::string_view path) {
  LinkExtensionTypes();
  if (absl::Status s = CheckSupportedFields(proto, path); !s.ok()) return s;
  if (proto.cluster_name().empty())
    return ConfigError(FieldPath(path, "cluster_name"), "is required");
  upstream::ClusterConfig scratch;
  scratch.type = upstream::DiscoveryType::kStatic;  // EDS hosts are IP addresses, as STATIC's
  RETURN_IF_ERROR(TranslateLoadAssignment(proto, path, scratch));
  return std::move(scratch.localities);
}

absl::StatusOr<upstream::ClusterConfig> TranslateCluster(const cluster::Cluster& proto,
                                                         std::string_view path) {
  LinkExtensionTypes();
  if (absl::Status s = CheckSupportedFields(proto, path); !s.ok()) return s;
  return internal::TranslateClusterUnchecked(proto, path);
}

}  // namespace weft::config
