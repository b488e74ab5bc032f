// Envoy v3 resources -> Weft's runtime config structs, one resource at a time, so the bootstrap
// loader and (next) the xDS client share them. Each function first checks the resource against
// the supported-fields table (supported_fields.h), then translates and validates what can be
// validated within the resource (regexes, weights, addresses, required fields). Checks across
// resources (a route's cluster exists, names are unique) belong to the caller.
//
// Errors are InvalidArgument with the field path, prefixed by `path` (e.g.
// "static_resources.listeners[0]"). Config-boundary only: this header includes generated
// protobuf headers; do not include it from data-path headers. Stateless; thread-safe.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"
#include "proxy/listener/listener_config.h"
#include "proxy/router/route_config.h"
#include "proxy/tls/secret_provider.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::config {

absl::StatusOr<listener::ListenerConfig> TranslateListener(
    const envoy::config::listener::v3::Listener& proto, std::string_view path = "");

absl::StatusOr<upstream::ClusterConfig> TranslateCluster(
    const envoy::config::cluster::v3::Cluster& proto, std::string_view path = "");

absl::StatusOr<router::RouteConfiguration> TranslateRouteConfiguration(
    const envoy::config::route::v3::RouteConfiguration& proto, std::string_view path = "");

// An EDS response's resource: the localities and endpoints of a `type: EDS` cluster.
absl::StatusOr<std::vector<upstream::LocalityEndpoints>> TranslateClusterLoadAssignment(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& proto, std::string_view path = "");

// An SDS response's resource (envoy.extensions.transport_sockets.tls.v3.Secret): exactly one
// of its tls_certificate (chain and key) or validation_context (trusted_ca) as PEM.
struct SdsSecret {
  std::optional<tls::TlsCertificate> certificate;
  std::optional<tls::ValidationContext> validation;
};
absl::StatusOr<SdsSecret> TranslateSecret(
    const envoy::extensions::transport_sockets::tls::v3::Secret& proto, std::string_view path = "");

namespace internal {
// The same without the supported-fields walk, for callers that walked an enclosing message.
absl::StatusOr<listener::ListenerConfig> TranslateListenerUnchecked(
    const envoy::config::listener::v3::Listener& proto, std::string_view path);
absl::StatusOr<upstream::ClusterConfig> TranslateClusterUnchecked(
    const envoy::config::cluster::v3::Cluster& proto, std::string_view path);
absl::StatusOr<router::RouteConfiguration> TranslateRouteConfigurationUnchecked(
    const envoy::config::route::v3::RouteConfiguration& proto, std::string_view path);
}  // namespace internal

}  // namespace weft::config
