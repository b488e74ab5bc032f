#include "proxy/config/known_extensions.h"

namespace weft::config {
namespace {

// Names and types as in Envoy's extension list (source/extensions/extensions_metadata.yaml).
constexpr KnownExtension kExtensions[] = {
    {"envoy.filters.network.http_connection_manager",
     "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
     ExtensionKind::kNetworkFilter},
    {"envoy.filters.network.tcp_proxy", "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
     ExtensionKind::kNetworkFilter},
    {"envoy.filters.network.rbac", "envoy.extensions.filters.network.rbac.v3.RBAC",
     ExtensionKind::kNetworkFilter},
    {"envoy.filters.http.rbac", "envoy.extensions.filters.http.rbac.v3.RBAC",
     ExtensionKind::kHttpFilter},
    {"envoy.filters.http.rbac", "envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
     ExtensionKind::kHttpFilterPerRoute},
    {"envoy.filters.http.router", "envoy.extensions.filters.http.router.v3.Router",
     ExtensionKind::kHttpFilter},
    {"envoy.filters.http.cors", "envoy.extensions.filters.http.cors.v3.Cors",
     ExtensionKind::kHttpFilter},
    // After the filter itself, so that the name alone finds the filter.
    {"envoy.filters.http.cors", "envoy.extensions.filters.http.cors.v3.CorsPolicy",
     ExtensionKind::kHttpFilterPerRoute},
    {"envoy.filters.http.fault", "envoy.extensions.filters.http.fault.v3.HTTPFault",
     ExtensionKind::kHttpFilter},
    {"envoy.filters.http.jwt_authn", "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
     ExtensionKind::kHttpFilter},
    // Istio's standard metrics filter (istio/proxy source/extensions/filters/http/istio_stats).
    // Its proto is not in Weft's tree: the config comes as an xds.type.v3.TypedStruct (or
    // udpa.type.v1.TypedStruct) naming this type, or as this type with no fields.
    {"istio.stats", "stats.PluginConfig", ExtensionKind::kHttpFilter},
    {"istio.stats", "stats.PluginConfig", ExtensionKind::kNetworkFilter},  // TCP metrics
    // Istio's TCP metadata exchange (istio/proxy source/extensions/filters/network/
    // metadata_exchange): inbound a listener filter, outbound a cluster filter. Its proto is not
    // in Weft's tree either (translate_metadata_exchange.h).
    {"istio.metadata_exchange", "envoy.tcp.metadataexchange.config.MetadataExchange",
     ExtensionKind::kNetworkFilter},
    {"istio.metadata_exchange", "envoy.tcp.metadataexchange.config.MetadataExchange",
     ExtensionKind::kUpstreamNetworkFilter},
    {"envoy.filters.http.local_ratelimit",
     "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit", ExtensionKind::kHttpFilter},
    {"envoy.retry_host_predicates.previous_hosts",
     "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
     ExtensionKind::kRetryHostPredicate},
    // Filter chains carry the downstream context, clusters the upstream one (translate_tls.cc).
    {"envoy.transport_sockets.tls",
     "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
     ExtensionKind::kTransportSocket},
    {"envoy.transport_sockets.tls", "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
     ExtensionKind::kTransportSocket},
    // Plaintext, named explicitly (Istio's "tlsMode-disabled" transport_socket_match).
    {"envoy.transport_sockets.raw_buffer",
     "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", ExtensionKind::kTransportSocket},
    {"envoy.filters.listener.tls_inspector",
     "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
     ExtensionKind::kListenerFilter},
    {"envoy.filters.listener.original_dst",
     "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
     ExtensionKind::kListenerFilter},
    {"envoy.filters.listener.http_inspector",
     "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
     ExtensionKind::kListenerFilter},
    {"envoy.filters.udp.dns_filter", "envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig",
     ExtensionKind::kUdpListenerFilter},
    {"envoy.access_loggers.file", "envoy.extensions.access_loggers.file.v3.FileAccessLog",
     ExtensionKind::kAccessLogger},
    {"envoy.access_loggers.stdout", "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
     ExtensionKind::kAccessLogger},
    {"envoy.access_loggers.stderr", "envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
     ExtensionKind::kAccessLogger},
    {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
     "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
     ExtensionKind::kUpstreamProtocolOptions},
    {"envoy.network.dns_resolver.cares",
     "envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
     ExtensionKind::kDnsResolver},
    // Cluster.load_balancing_policy. Peak EWMA has no proto in the pinned package: it comes in an
    // xds.type.v3.TypedStruct and is recognised by translate_lb_policy.cc.
    {"envoy.load_balancing_policies.round_robin",
     "envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin",
     ExtensionKind::kLoadBalancingPolicy},
    {"envoy.load_balancing_policies.least_request",
     "envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest",
     ExtensionKind::kLoadBalancingPolicy},
    {"envoy.load_balancing_policies.random",
     "envoy.extensions.load_balancing_policies.random.v3.Random",
     ExtensionKind::kLoadBalancingPolicy},
    {"envoy.load_balancing_policies.ring_hash",
     "envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash",
     ExtensionKind::kLoadBalancingPolicy},
    {"envoy.load_balancing_policies.maglev",
     "envoy.extensions.load_balancing_policies.maglev.v3.Maglev",
     ExtensionKind::kLoadBalancingPolicy},
};

}  // namespace

std::span<const KnownExtension> KnownExtensions() { return kExtensions; }

const KnownExtension* FindExtensionByType(std::string_view type_name) {
  for (const KnownExtension& e : kExtensions) {
    if (e.type_name == type_name) return &e;
  }
  return nullptr;
}

const KnownExtension* FindExtensionByName(std::string_view name) {
  for (const KnownExtension& e : kExtensions) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string_view TypeNameFromUrl(std::string_view type_url) {
  const size_t slash = type_url.rfind('/');
  return slash == std::string_view::npos ? type_url : type_url.substr(slash + 1);
}

std::string_view ExtensionKindName(ExtensionKind kind) {
  switch (kind) {
    case ExtensionKind::kNetworkFilter:
      return "network filter";
    case ExtensionKind::kHttpFilter:
      return "http filter";
    case ExtensionKind::kHttpFilterPerRoute:
      return "per-route http filter config";
    case ExtensionKind::kListenerFilter:
      return "listener filter";
    case ExtensionKind::kUdpListenerFilter:
      return "UDP listener filter";
    case ExtensionKind::kAccessLogger:
      return "access logger";
    case ExtensionKind::kUpstreamProtocolOptions:
      return "upstream protocol options";
    case ExtensionKind::kDnsResolver:
      return "dns resolver";
    case ExtensionKind::kRetryHostPredicate:
      return "retry host predicate";
    case ExtensionKind::kLoadBalancingPolicy:
      return "load balancing policy";
    case ExtensionKind::kTransportSocket:
      return "transport socket";
    case ExtensionKind::kUpstreamNetworkFilter:
      return "cluster filter";
  }
  return "extension";
}

}  // namespace weft::config
