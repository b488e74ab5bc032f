// envoy.filters.http.jwt_authn's JwtAuthentication -> filters::JwtAuthnConfig. The proto arrives
// as JSON through api/bridge (its generated header is C++17-only); field paths in errors are
// the proto's. The supported-fields table has already refused fields Weft does not implement.
#pragma once

#include <google/protobuf/any.pb.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/filters/jwt_authn.h"

namespace weft::config {

// `http_stat_prefix` is "http.<stat_prefix>."; `path` names the typed_config.
absl::StatusOr<std::shared_ptr<const filters::JwtAuthnConfig>> TranslateJwtAuthn(
    const google::protobuf::Any& typed_config, std::string_view http_stat_prefix,
    std::string_view path);

}  // namespace weft::config
