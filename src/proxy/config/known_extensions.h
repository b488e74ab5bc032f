// The Envoy extensions Weft implements, by name and by config type, so a config selects them the
// way Envoy's does (typed_config's @type first, the name alone where Envoy allows it). Anything not
// listed here is refused by the loader with the extension's name and path. Immutable data;
// thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace weft::config {

enum class ExtensionKind {
  kNetworkFilter,
  kHttpFilter,
  kHttpFilterPerRoute,  // a filter's typed_per_filter_config type, when it differs from its own
  kListenerFilter,
  kUdpListenerFilter,  // listener_filters of a UDP listener
  kAccessLogger,
  kUpstreamProtocolOptions,
  kDnsResolver,
  kRetryHostPredicate,
  kLoadBalancingPolicy,
  kTransportSocket,        // filter chain / cluster transport_socket
  kUpstreamNetworkFilter,  // Cluster.filters
};

struct KnownExtension {
  std::string_view name;       // e.g. "envoy.filters.http.router"
  std::string_view type_name;  // full proto message name of its typed_config
  ExtensionKind kind;
};

std::span<const KnownExtension> KnownExtensions();

// By the full message name (no "type.googleapis.com/" prefix) or by extension name; nullptr when
// Weft does not implement it.
const KnownExtension* FindExtensionByType(std::string_view type_name);
const KnownExtension* FindExtensionByName(std::string_view name);

// "type.googleapis.com/a.b.C" -> "a.b.C".
std::string_view TypeNameFromUrl(std::string_view type_url);

std::string_view ExtensionKindName(ExtensionKind kind);

}  // namespace weft::config
