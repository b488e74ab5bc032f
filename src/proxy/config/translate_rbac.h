// envoy.filters.http.rbac (RBAC, RBACPerRoute) and envoy.filters.network.rbac typed_configs ->
// rbac::RbacConfig: the policies compiled into rbac_engine.h's matcher trees. Config-boundary
// only. Fields Weft does not evaluate (conditions, matcher trees, audit loggers, metadata value
// kinds other than string / list one_of / present) are refused with their path here or by
// supported_fields.cc.
#pragma once

#include <google/protobuf/any.pb.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/filters/rbac_engine.h"

namespace weft::config {

inline constexpr std::string_view kHttpRbacType = "envoy.extensions.filters.http.rbac.v3.RBAC";
inline constexpr std::string_view kHttpRbacPerRouteType =
    "envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
inline constexpr std::string_view kNetworkRbacType =
    "envoy.extensions.filters.network.rbac.v3.RBAC";

// `http_stat_prefix` is the connection manager's: "http.<stat_prefix>.".
absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateHttpRbac(
    const google::protobuf::Any& typed_config, std::string_view http_stat_prefix,
    std::string_view path);
// RBACPerRoute: its `rbac`, or a config without rules when absent (disables the filter there).
absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateHttpRbacPerRoute(
    const google::protobuf::Any& typed_config, std::string_view path);
absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> TranslateNetworkRbac(
    const google::protobuf::Any& typed_config, std::string_view path);

}  // namespace weft::config
