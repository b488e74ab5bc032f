// The jwt_authn filter's config from its proto JSON. Envoy's jwt_authn proto has a field named
// `requires`, a C++20 keyword, so its generated header compiles only as C++17 (api/README.md):
// jwt_authn_config.cc is the one file that includes it, built with -std=c++17, and this header
// keeps the proto out of the C++20 translator.
#pragma once

#include <google/protobuf/any.pb.h>

#include <string>

namespace weft::control::translate::internal {

// `json` is a JwtAuthentication in proto JSON; false (and `error`) if it does not parse.
bool PackJwtAuthentication(const std::string& json, google::protobuf::Any& out, std::string& error);

}  // namespace weft::control::translate::internal
