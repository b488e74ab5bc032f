// Built as C++17 (src/control/CMakeLists.txt): see jwt_authn_config.h.
#include "control/translate/jwt_authn_config.h"

#include <google/protobuf/util/json_util.h>

#include "envoy/extensions/filters/http/jwt_authn/v3/config.pb.h"

namespace weft::control::translate::internal {

bool PackJwtAuthentication(const std::string& json, google::protobuf::Any& out,
                           std::string& error) {
  envoy::extensions::filters::http::jwt_authn::v3::JwtAuthentication config;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &config);
  if (!status.ok()) {
    error = std::string(status.message());
    return false;
  }
  out.PackFrom(config);
  return true;
}

}  // namespace weft::control::translate::internal
