// YAML to JSON by YAML 1.2's core schema, for documents no protobuf descriptor types: a quoted
// scalar is a string, a plain one is a bool (true/false), null (null, ~), an integer or decimal
// when it reads as one, else a string. Weft's Kubernetes-shaped resources (weftd, weftctl) are
// read this way; the proxy's bootstrap uses the same rules where its descriptor has no field
// (proxy/config/yaml_to_json.h). Stateless; thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace YAML {
class Node;
}

namespace weft::yaml {

// `true`/`True`/`TRUE` and the false spellings.
bool ParseBool(std::string_view s, bool* out);
// Integers (int64/uint64) and decimals; anything else ("inf", "0x1F", "abc") is not a number.
bool ParseNumber(std::string_view s, nlohmann::json* out);

// The core-schema JSON value of one node.
nlohmann::json NodeToJson(const YAML::Node& node);

// Every document of a multi-document stream ("---" separated), in order; empty documents (a
// trailing "---", a comment-only file) are skipped. Invalid YAML is refused with yaml-cpp's
// line:column.
absl::StatusOr<std::vector<nlohmann::json>> DocumentsToJson(std::string_view yaml);

}  // namespace weft::yaml
