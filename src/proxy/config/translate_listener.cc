// envoy.config.listener.v3.Listener (and its network filters http_connection_manager and
// tcp_proxy) -> listener::ListenerConfig.
#include "base/status.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/translate_dns_filter.h"
#include "proxy/config/translate_filters.h"
#include "proxy/config/translate_istio_stats.h"
#include "proxy/config/translate_metadata_exchange.h"
#include "proxy/config/translate_rbac.h"
#include "proxy/config/translate_tls.h"

namespace weft::config {
namespace {

namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;

absl::StatusOr<listener::FilterChainMatch> TranslateFilterChainMatch(const lst::FilterChainMatch& m,
                                                                     std::string_view path) {
  listener::FilterChainMatch out;
  if (m.has_destination_port()) {
    if (m.destination_port().value() < 1 || m.destination_port().value() > 65535) {
      return ConfigError(FieldPath(path, "destination_port"), "must be in [1, 65535]");
    }
    out.destination_port = m.destination_port().value();
  }
  for (int i = 0; i < m.prefix_ranges_size(); ++i) {
    ASSIGN_OR_RETURN(listener::CidrRange c,
                     TranslateCidr(m.prefix_ranges(i), IndexPath(path, "prefix_ranges", i)));
    out.prefix_ranges.push_back(std::move(c));
  }
  for (int i = 0; i < m.source_prefix_ranges_size(); ++i) {
    ASSIGN_OR_RETURN(
        listener::CidrRange c,
        TranslateCidr(m.source_prefix_ranges(i), IndexPath(path, "source_prefix_ranges", i)));
    out.source_prefix_ranges.push_back(std::move(c));
  }
  for (int i = 0; i < m.source_ports_size(); ++i) {
    if (m.source_ports(i) < 1 || m.source_ports(i) > 65535) {
      return ConfigError(IndexPath(path, "source_ports", i), "must be in [1, 65535]");
    }
    out.source_ports.push_back(m.source_ports(i));
  }
  for (const std::string& name : m.server_names()) {
    out.server_names.push_back(absl::AsciiStrToLower(name));
  }
  out.transport_protocol = m.transport_protocol();
  if (!out.transport_protocol.empty() && out.transport_protocol != "raw_buffer" &&
      out.transport_protocol != "tls") {
    return ConfigError(FieldPath(path, "transport_protocol"), "must be raw_buffer or tls");
  }
  out.application_protocols.assign(m.application_protocols().begin(),
                                   m.application_protocols().end());
  switch (m.source_type()) {
    case lst::FilterChainMatch::SAME_IP_OR_LOOPBACK:
      out.source_type = listener::FilterChainMatch::SourceType::kSameIpOrLoopback;
      break;
    case lst::FilterChainMatch::EXTERNAL:
      out.source_type = listener::FilterChainMatch::SourceType::kExternal;
      break;
    default:
      break;
  }
  return out;
}

absl::StatusOr<listener::LocalReplyConfig> TranslateLocalReply(const hcm::LocalReplyConfig& l,
                                                               std::string_view path) {
  listener::LocalReplyConfig out;
  for (int i = 0; i < l.mappers_size(); ++i) {
    const hcm::ResponseMapper& m = l.mappers(i);
    const std::string m_path = IndexPath(path, "mappers", i);
    listener::LocalReplyMapper mapper;
    const std::string f_path = FieldPath(m_path, "filter");
    const auto& filter = m.filter();
    if (filter.has_status_code_filter()) {
      const auto& cmp = filter.status_code_filter().comparison();
      if (cmp.op() != envoy::config::accesslog::v3::ComparisonFilter::EQ) {
        return ConfigError(FieldPath(f_path, "status_code_filter.comparison.op"),
                           "only EQ is supported");
      }
      mapper.status_code_equals = cmp.value().default_value();
    } else if (filter.has_header_filter()) {
      ASSIGN_OR_RETURN(router::HeaderMatcher h,
                       TranslateHeaderMatcher(filter.header_filter().header(),
                                              FieldPath(f_path, "header_filter.header")));
      mapper.header_filter = std::move(h);
    } else {
      return ConfigError(f_path, "needs status_code_filter or header_filter");
    }
    if (m.has_status_code()) {
      if (m.status_code().value() < 200 || m.status_code().value() > 599) {
        return ConfigError(FieldPath(m_path, "status_code"), "must be in [200, 599]");
      }
      mapper.status_code = m.status_code().value();
    }
    if (m.has_body()) {
      ASSIGN_OR_RETURN(std::string body, TranslateDataSource(m.body(), FieldPath(m_path, "body")));
      mapper.body = std::move(body);
    }
    if (m.has_body_format_override()) {
      const std::string b_path = FieldPath(m_path, "body_format_override");
      ASSIGN_OR_RETURN(Format format, TranslateFormat(m.body_format_override(), b_path));
      if (!format.json.empty()) return ConfigError(b_path, "json_format is not supported here");
      mapper.body_format = std::move(format.text);
      mapper.content_type = std::move(format.content_type);
    }
    out.mappers.push_back(std::move(mapper));
  }
  if (l.has_body_format()) {
    const std::string b_path = FieldPath(path, "body_format");
    ASSIGN_OR_RETURN(Format format, TranslateFormat(l.body_format(), b_path));
    if (!format.json.empty()) return ConfigError(b_path, "json_format is not supported here");
    out.body_format = std::move(format.text);
    out.content_type = std::move(format.content_type);
  }
  return out;
}

absl::StatusOr<listener::HttpConnectionManagerConfig> TranslateHcm(
    const hcm::HttpConnectionManager& p, std::string_view path,
    filters::istio::TrafficDirection direction) {
  listener::HttpConnectionManagerConfig out;
  switch (p.codec_type()) {
    case hcm::HttpConnectionManager::AUTO:
      out.codec_type = listener::HttpConnectionManagerConfig::CodecType::kAuto;
      break;
    case hcm::HttpConnectionManager::HTTP1:
      out.codec_type = listener::HttpConnectionManagerConfig::CodecType::kHttp1;
      break;
    case hcm::HttpConnectionManager::HTTP2:
      out.codec_type = listener::HttpConnectionManagerConfig::CodecType::kHttp2;
      break;
    default:
      return ConfigError(FieldPath(path, "codec_type"), "only AUTO, HTTP1 and HTTP2 are supported");
  }
  out.stat_prefix = p.stat_prefix();
  if (out.stat_prefix.empty()) return ConfigError(FieldPath(path, "stat_prefix"), "is required");

  switch (p.route_specifier_case()) {
    case hcm::HttpConnectionManager::kRouteConfig: {
      ASSIGN_OR_RETURN(router::RouteConfiguration routes,
                       internal::TranslateRouteConfigurationUnchecked(
                           p.route_config(), FieldPath(path, "route_config")));
      out.route_config = std::make_shared<const router::RouteConfiguration>(std::move(routes));
      break;
    }
    case hcm::HttpConnectionManager::kRds:
      // The RouteConfiguration arrives over ADS; the bootstrap loader refuses rds without
      // dynamic_resources, and the listener waits (warms) until its routes are there.
      if (!p.rds().config_source().has_ads()) {
        return ConfigError(FieldPath(path, "rds.config_source"),
                           "only ads: {} is supported (routes come over the ADS stream)");
      }
      if (p.rds().route_config_name().empty()) {
        return ConfigError(FieldPath(path, "rds.route_config_name"), "is required");
      }
      out.rds_route_config_name = p.rds().route_config_name();
      break;
    default:
      return ConfigError(path, "http_connection_manager needs a route_config");
  }

  const KnownExtension* last_filter = nullptr;
  for (int i = 0; i < p.http_filters_size(); ++i) {
    const hcm::HttpFilter& f = p.http_filters(i);
    const std::string f_path = IndexPath(path, "http_filters", i);
    ASSIGN_OR_RETURN(last_filter,
                     ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                                      ExtensionKind::kHttpFilter, f_path));
    if (last_filter->name == "envoy.filters.http.router" && i + 1 < p.http_filters_size()) {
      return ConfigError(f_path,
                         "envoy.filters.http.router is terminal: it must be the last filter");
    }
    std::string name = f.name().empty() ? std::string(last_filter->name) : f.name();
    // Envoy names HTTP filter stats under "http.<stat_prefix>." (as HcmRuntime's stat_prefix).
    ASSIGN_OR_RETURN(
        auto factory,
        TranslateHttpFilter(*last_filter, name, f.has_typed_config() ? &f.typed_config() : nullptr,
                            Cat("http.", out.stat_prefix, "."), f_path, direction));
    out.http_filters.push_back(listener::HttpFilterConfig{
        std::move(name), f.has_typed_config() ? f.typed_config().type_url() : std::string(),
        std::move(factory)});
  }
  // The router is the terminal filter: Envoy requires a terminal filter last.
  if (last_filter == nullptr || last_filter->name != "envoy.filters.http.router") {
    return ConfigError(FieldPath(path, "http_filters"),
                       "the last http filter must be envoy.filters.http.router");
  }

  ASSIGN_OR_RETURN(out.access_logs,
                   TranslateAccessLogs(p.access_log(), FieldPath(path, "access_log")));
  if (p.has_local_reply_config()) {
    ASSIGN_OR_RETURN(out.local_reply, TranslateLocalReply(p.local_reply_config(),
                                                          FieldPath(path, "local_reply_config")));
  }
  if (!p.server_name().empty()) out.server_name = p.server_name();
  switch (p.server_header_transformation()) {
    case hcm::HttpConnectionManager::APPEND_IF_ABSENT:
      out.server_header_transformation =
          listener::HttpConnectionManagerConfig::ServerHeaderTransformation::kAppendIfAbsent;
      break;
    case hcm::HttpConnectionManager::PASS_THROUGH:
      out.server_header_transformation =
          listener::HttpConnectionManagerConfig::ServerHeaderTransformation::kPassThrough;
      break;
    default:
      break;
  }
  if (p.has_use_remote_address()) out.use_remote_address = p.use_remote_address().value();
  out.xff_num_trusted_hops = p.xff_num_trusted_hops();
  if (p.has_generate_request_id()) out.generate_request_id = p.generate_request_id().value();
  out.preserve_external_request_id = p.preserve_external_request_id();
  if (p.has_normalize_path()) out.normalize_path = p.normalize_path().value();
  out.merge_slashes = p.merge_slashes();

  if (p.has_common_http_protocol_options()) {
    const auto& c = p.common_http_protocol_options();
    if (c.has_idle_timeout()) out.idle_timeout = ToMilliseconds(c.idle_timeout());
    if (c.has_max_headers_count()) {
      if (c.max_headers_count().value() < 1) {
        return ConfigError(FieldPath(path, "common_http_protocol_options.max_headers_count"),
                           "must be at least 1");
      }
      out.max_headers_count = c.max_headers_count().value();
    }
    if (c.has_max_connection_duration()) {
      out.max_connection_duration = ToMilliseconds(c.max_connection_duration());
    }
    if (c.has_max_requests_per_connection()) {
      out.max_requests_per_connection = c.max_requests_per_connection().value();
    }
  }
  out.allow_chunked_length = p.http_protocol_options().allow_chunked_length();
  if (p.has_http2_protocol_options()) {
    ASSIGN_OR_RETURN(out.http2, TranslateHttp2Options(p.http2_protocol_options(),
                                                      FieldPath(path, "http2_protocol_options")));
  }
  if (p.has_stream_idle_timeout())
    out.stream_idle_timeout = ToMilliseconds(p.stream_idle_timeout());
  if (p.has_request_timeout()) out.request_timeout = ToMilliseconds(p.request_timeout());
  if (p.has_request_headers_timeout()) {
    out.request_headers_timeout = ToMilliseconds(p.request_headers_timeout());
  }
  if (p.has_drain_timeout()) out.drain_timeout = ToMilliseconds(p.drain_timeout());
  if (p.has_delayed_close_timeout()) {
    out.delayed_close_timeout = ToMilliseconds(p.delayed_close_timeout());
  }
  if (p.has_max_request_headers_kb()) {
    const uint32_t kb = p.max_request_headers_kb().value();
    if (kb < 1 || kb > 8192) {  // Envoy's bounds
      return ConfigError(FieldPath(path, "max_request_headers_kb"), "must be in [1, 8192]");
    }
    out.max_request_headers_kb = kb;
  }
  return out;
}

absl::StatusOr<listener::TcpProxyConfig> TranslateTcpProxy(const tcp::TcpProxy& p,
                                                           std::string_view path) {
  listener::TcpProxyConfig out;
  out.stat_prefix = p.stat_prefix();
  if (out.stat_prefix.empty()) return ConfigError(FieldPath(path, "stat_prefix"), "is required");
  switch (p.cluster_specifier_case()) {
    case tcp::TcpProxy::kCluster:
      out.cluster = p.cluster();
      if (out.cluster.empty()) return ConfigError(FieldPath(path, "cluster"), "is empty");
      break;
    case tcp::TcpProxy::kWeightedClusters: {
      const std::string wc_path = FieldPath(path, "weighted_clusters");
      uint64_t total = 0;
      for (int i = 0; i < p.weighted_clusters().clusters_size(); ++i) {
        const auto& c = p.weighted_clusters().clusters(i);
        if (c.name().empty()) {
          return ConfigError(FieldPath(IndexPath(wc_path, "clusters", i), "name"), "is required");
        }
        out.weighted_clusters.push_back(router::WeightedCluster{c.name(), c.weight(), {}});
        total += c.weight();
      }
      if (total == 0) return ConfigError(wc_path, "the weights must sum to more than 0");
      if (total > UINT32_MAX) return ConfigError(wc_path, "the weights sum exceeds 2^32-1");
      out.total_weight = static_cast<uint32_t>(total);
      break;
    }
    default:
      return ConfigError(path, "tcp_proxy needs cluster or weighted_clusters");
  }
  if (p.has_idle_timeout()) out.idle_timeout = ToMilliseconds(p.idle_timeout());
  if (p.has_max_connect_attempts()) {
    if (p.max_connect_attempts().value() < 1) {
      return ConfigError(FieldPath(path, "max_connect_attempts"), "must be at least 1");
    }
    out.max_connect_attempts = p.max_connect_attempts().value();
  }
  ASSIGN_OR_RETURN(out.access_logs,
                   TranslateAccessLogs(p.access_log(), FieldPath(path, "access_log")));
  return out;
}

absl::StatusOr<listener::FilterChain> TranslateFilterChain(
    const lst::FilterChain& fc, std::string_view path, filters::istio::TrafficDirection direction) {
  listener::FilterChain out;
  out.name = fc.name();
  if (fc.has_filter_chain_match()) {
    ASSIGN_OR_RETURN(out.match, TranslateFilterChainMatch(fc.filter_chain_match(),
                                                          FieldPath(path, "filter_chain_match")));
  }
  if (fc.filters_size() == 0) {
    return ConfigError(FieldPath(path, "filters"),
                       "needs a terminal network filter (http_connection_manager or tcp_proxy)");
  }
  if (fc.has_transport_socket()) {
    ASSIGN_OR_RETURN(out.tls, TranslateTransportSocket(fc.transport_socket(), /*server=*/true,
                                                       FieldPath(path, "transport_socket")));
  }
  if (fc.has_transport_socket_connect_timeout()) {
    const google::protobuf::Duration& d = fc.transport_socket_connect_timeout();
    if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() > 999999999) {
      return ConfigError(FieldPath(path, "transport_socket_connect_timeout"),
                         "must be a non-negative duration");
    }
    // Envoy: "If present and nonzero" the limit applies; zero, like unset, means none.
    out.transport_socket_connect_timeout = ToMilliseconds(d);
  }
  // Every filter but the last must be envoy.filters.network.rbac or istio.stats (before a
  // tcp_proxy); the last is the terminal one.
  const bool tcp_chain =
      TypeNameFromUrl(fc.filters(fc.filters_size() - 1).typed_config().type_url()) ==
      tcp::TcpProxy::descriptor()->full_name();
  for (int i = 0; i + 1 < fc.filters_size(); ++i) {
    const lst::Filter& f = fc.filters(i);
    const std::string f_path = IndexPath(path, "filters", i);
    ASSIGN_OR_RETURN(const KnownExtension* ext,
                     ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                                      ExtensionKind::kNetworkFilter, f_path));
    if (ext->type_name == kIstioStatsType) {
      if (!tcp_chain) {
        return ConfigError(f_path,
                           "istio.stats as a network filter only goes before tcp_proxy (an "
                           "http_connection_manager takes it as an HTTP filter)");
      }
      ASSIGN_OR_RETURN(out.istio_tcp_stats,
                       TranslateIstioStats(f.has_typed_config() ? &f.typed_config() : nullptr,
                                           direction, FieldPath(f_path, "typed_config")));
      continue;
    }
    if (ext->type_name == kMetadataExchangeType) {
      if (!tcp_chain) {
        return ConfigError(f_path, "istio.metadata_exchange only goes before tcp_proxy");
      }
      if (!out.metadata_exchange_protocol.empty()) {
        return ConfigError(f_path, "istio.metadata_exchange is given twice");
      }
      ASSIGN_OR_RETURN(
          out.metadata_exchange_protocol,
          TranslateMetadataExchange(f.has_typed_config() ? &f.typed_config() : nullptr, f_path));
      continue;
    }
    if (ext->type_name != kNetworkRbacType) {
      return ConfigError(f_path,
                         "only envoy.filters.network.rbac, istio.stats and "
                         "istio.metadata_exchange may come before the terminal filter, got '",
                         ext->name, "'");
    }
    if (!f.has_typed_config()) {
      return ConfigError(FieldPath(f_path, "typed_config"), "is required for '", ext->name, "'");
    }
    ASSIGN_OR_RETURN(auto rbac_config,
                     TranslateNetworkRbac(f.typed_config(), FieldPath(f_path, "typed_config")));
    out.network_rbacs.push_back(std::move(rbac_config));
  }
  const int last = fc.filters_size() - 1;
  const lst::Filter& f = fc.filters(last);
  const std::string f_path = IndexPath(path, "filters", last);
  ASSIGN_OR_RETURN(const KnownExtension* ext,
                   ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                                    ExtensionKind::kNetworkFilter, f_path));
  if (!f.has_typed_config()) {
    return ConfigError(FieldPath(f_path, "typed_config"), "is required for '", ext->name, "'");
  }
  const std::string c_path = FieldPath(f_path, "typed_config");
  if (ext->type_name == kNetworkRbacType) {
    return ConfigError(f_path,
                       "envoy.filters.network.rbac is not terminal: a chain ends with "
                       "http_connection_manager or tcp_proxy");
  }
  if (ext->name == "envoy.filters.network.http_connection_manager") {
    ASSIGN_OR_RETURN(hcm::HttpConnectionManager proto,
                     Unpack<hcm::HttpConnectionManager>(f.typed_config(), c_path));
    ASSIGN_OR_RETURN(out.filter, TranslateHcm(proto, c_path, direction));
  } else {
    ASSIGN_OR_RETURN(tcp::TcpProxy proto, Unpack<tcp::TcpProxy>(f.typed_config(), c_path));
    ASSIGN_OR_RETURN(out.filter, TranslateTcpProxy(proto, c_path));
  }
  return out;
}

// A UDP listener: no filter chains; exactly one UDP listener filter, the DNS filter.
absl::StatusOr<listener::ListenerConfig> TranslateUdpListener(const lst::Listener& p,
                                                              std::string_view path,
                                                              listener::ListenerConfig out) {
  out.udp = true;
  if (p.filter_chains_size() > 0 || p.has_default_filter_chain()) {
    return ConfigError(
        FieldPath(path, p.filter_chains_size() > 0 ? "filter_chains" : "default_filter_chain"),
        "a UDP listener has no filter chains (its listener_filters serve it)");
  }
  for (const char* tcp_only :
       {"use_original_dst", "per_connection_buffer_limit_bytes", "tcp_backlog_size"}) {
    const auto* field = p.GetDescriptor()->FindFieldByName(tcp_only);
    if (field != nullptr && p.GetReflection()->HasField(p, field)) {
      return ConfigError(FieldPath(path, tcp_only), "not supported on a UDP listener");
    }
  }
  if (p.listener_filters_size() != 1) {
    return ConfigError(FieldPath(path, "listener_filters"),
                       "a UDP listener needs exactly one listener filter: "
                       "envoy.filters.udp.dns_filter");
  }
  const lst::ListenerFilter& f = p.listener_filters(0);
  const std::string f_path = IndexPath(path, "listener_filters", 0);
  // The DNS filter is the only UDP listener filter: resolving it is the whole check.
  RETURN_IF_ERROR(ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                                   ExtensionKind::kUdpListenerFilter, f_path)
                      .status());
  if (!f.has_typed_config()) return ConfigError(FieldPath(f_path, "typed_config"), "is required");
  const std::string c_path = FieldPath(f_path, "typed_config");
  ASSIGN_OR_RETURN(auto proto,
                   Unpack<envoy::extensions::filters::udp::dns_filter::v3::DnsFilterConfig>(
                       f.typed_config(), c_path));
  ASSIGN_OR_RETURN(out.dns_filter, TranslateDnsFilter(proto, c_path));
  if (p.has_listener_filters_timeout()) {
    out.listener_filters_timeout = ToMilliseconds(p.listener_filters_timeout());
  }
  out.continue_on_listener_filters_timeout = p.continue_on_listener_filters_timeout();
  out.stat_prefix = p.stat_prefix();
  if (p.has_bind_to_port()) out.bind_to_port = p.bind_to_port().value();
  if (!out.bind_to_port) {
    return ConfigError(FieldPath(path, "bind_to_port"), "a UDP listener must bind its port");
  }
  if (p.has_freebind()) out.freebind = p.freebind().value();
  return out;
}

}  // namespace

namespace internal {

absl::StatusOr<listener::ListenerConfig> TranslateListenerUnchecked(const lst::Listener& p,
                                                                    std::string_view path) {
  listener::ListenerConfig out;
  out.name = p.name();
  if (!p.has_address()) return ConfigError(FieldPath(path, "address"), "is required");
  ASSIGN_OR_RETURN(HostPort hp, TranslateSocketAddress(p.address(), FieldPath(path, "address"),
                                                       /*allow_udp=*/true));
  if (!IsIpLiteral(hp.address)) {
    return ConfigError(FieldPath(path, "address.socket_address.address"), "'", hp.address,
                       "' is not an IP address");
  }
  out.address = std::move(hp.address);
  out.port = hp.port;
  if (hp.udp) return TranslateUdpListener(p, path, std::move(out));
  if (p.has_udp_listener_config()) {
    return ConfigError(FieldPath(path, "udp_listener_config"),
                       "only for a listener whose address.socket_address.protocol is UDP");
  }
  if (p.filter_chains_size() == 0 && !p.has_default_filter_chain()) {
    return ConfigError(FieldPath(path, "filter_chains"), "a listener needs filter_chains");
  }
  // Listener.traffic_direction: Istio marks its inbound and outbound listeners, and its stats
  // filter reports as "destination" on INBOUND ones (config/core/v3/base.proto).
  auto direction = filters::istio::TrafficDirection::kUnspecified;
  if (p.traffic_direction() == envoy::config::core::v3::INBOUND) {
    direction = filters::istio::TrafficDirection::kInbound;
  } else if (p.traffic_direction() == envoy::config::core::v3::OUTBOUND) {
    direction = filters::istio::TrafficDirection::kOutbound;
  }
  for (int i = 0; i < p.filter_chains_size(); ++i) {
    ASSIGN_OR_RETURN(
        listener::FilterChain fc,
        TranslateFilterChain(p.filter_chains(i), IndexPath(path, "filter_chains", i), direction));
    out.filter_chains.push_back(std::move(fc));
  }
  if (p.has_default_filter_chain()) {
    ASSIGN_OR_RETURN(out.default_filter_chain,
                     TranslateFilterChain(p.default_filter_chain(),
                                          FieldPath(path, "default_filter_chain"), direction));
  }
  for (int i = 0; i < p.listener_filters_size(); ++i) {
    const lst::ListenerFilter& f = p.listener_filters(i);
    ASSIGN_OR_RETURN(
        const KnownExtension* ext,
        ResolveExtension(f.name(), f.has_typed_config() ? &f.typed_config() : nullptr,
                         ExtensionKind::kListenerFilter, IndexPath(path, "listener_filters", i)));
    if (ext->name == "envoy.filters.listener.tls_inspector") out.tls_inspector = true;
    if (ext->name == "envoy.filters.listener.http_inspector") out.http_inspector = true;
    if (ext->name == "envoy.filters.listener.original_dst") out.restore_original_dst = true;
  }
  if (p.has_per_connection_buffer_limit_bytes()) {
    out.per_connection_buffer_limit_bytes = p.per_connection_buffer_limit_bytes().value();
  }
  if (p.has_use_original_dst() && p.use_original_dst().value()) {
    out.use_original_dst = true;
    out.restore_original_dst = true;
  }
  if (p.has_listener_filters_timeout()) {
    out.listener_filters_timeout = ToMilliseconds(p.listener_filters_timeout());
  }
  out.continue_on_listener_filters_timeout = p.continue_on_listener_filters_timeout();
  out.stat_prefix = p.stat_prefix();
  if (p.has_bind_to_port()) out.bind_to_port = p.bind_to_port().value();
  if (p.has_freebind()) out.freebind = p.freebind().value();
  if (p.has_tcp_backlog_size()) out.backlog = p.tcp_backlog_size().value();
  return out;
}

}  // namespace internal

absl::StatusOr<listener::ListenerConfig> TranslateListener(const lst::Listener& proto,
                                                           std::string_view path) {
  LinkExtensionTypes();
  if (absl::Status s = CheckSupportedFields(proto, path); !s.ok()) return s;
  return internal::TranslateListenerUnchecked(proto, path);
}

}  // namespace weft::config
