// YAML (or JSON, which yaml-cpp also reads) to the JSON text protobuf's JSON parser accepts.
//
// YAML scalars are untyped, protobuf's JSON parser is strict: `port_value: 10000` must be a JSON
// number, `value: 1` in a string field must be a JSON string, durations stay strings ("5s").
// So the conversion walks the target message's descriptor alongside the YAML tree and types each
// plain scalar by the field it fills; where no field is known (Struct values, unknown keys) it
// uses YAML 1.2 core-schema rules (quoted scalars are always strings). Any values pick their
// descriptor from "@type" in the generated pool; a type not in it is refused with its path.
// A key that is not a field of its message is refused as "<path>: unknown field".
// Anchors and aliases are resolved by yaml-cpp. Stateless; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace google::protobuf {
class Descriptor;
}

namespace weft::config {

absl::StatusOr<std::string> YamlToJson(std::string_view yaml,
                                       const google::protobuf::Descriptor& root);

}  // namespace weft::config
