// jwt_authn's JwtAuthentication as JSON, for C++20 code. protoc 3.21 names the field `requires`
// `requires()`, a C++20 keyword, so the generated header compiles only as C++17 (see
// api/CMakeLists.txt). This bridge is compiled with the protos (C++17) and keeps the generated
// header away from the rest of Weft; it also links the message's descriptor into every binary that
// may receive one in an Any.
#pragma once

#include <string>

namespace google::protobuf {
class Any;
}

namespace weft::api {

// The Any's JwtAuthentication as JSON with the proto's field names (snake_case), or an empty
// string when the Any does not hold one.
std::string JwtAuthenticationToJson(const google::protobuf::Any& any);

}  // namespace weft::api
