#include "bridge/jwt_authn_json.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/json_util.h>

#include "envoy/extensions/filters/http/jwt_authn/v3/config.pb.h"

namespace weft::api {

std::string JwtAuthenticationToJson(const google::protobuf::Any& any) {
  envoy::extensions::filters::http::jwt_authn::v3::JwtAuthentication config;
  if (!any.UnpackTo(&config)) return std::string();
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(config, &out, options).ok())
    return std::string();
  return out;
}

}  // namespace weft::api
