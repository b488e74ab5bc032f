#include "base/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace weft::yaml {

using nlohmann::json;

bool ParseBool(std::string_view s, bool* out) {
  if (s == "true" || s == "True" || s == "TRUE") return *out = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return *out = false, true;
  return false;
}

// Integers and decimals as JSON numbers; anything else (including "inf", ".nan", "0x1F") stays a
// string, which the consumer (protobuf's parser, a resource validator) reports precisely.
bool ParseNumber(std::string_view s, json* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const std::string_view unsigned_part = !s.empty() && s.front() == '-' ? s.substr(1) : s;
  if (unsigned_part.empty() ||
      !(std::isdigit(static_cast<unsigned char>(unsigned_part[0])) || unsigned_part[0] == '.')) {
    return false;
  }
  const char* end = s.data() + s.size();
  if (s.front() == '-') {
    int64_t v;
    if (auto [p, ec] = std::from_chars(s.data(), end, v); ec == std::errc() && p == end) {
      *out = v;
      return true;
    }
  } else {
    uint64_t v;
    if (auto [p, ec] = std::from_chars(s.data(), end, v); ec == std::errc() && p == end) {
      *out = v;
      return true;
    }
  }
  double d;
  if (auto [p, ec] = std::from_chars(s.data(), end, d); ec == std::errc() && p == end) {
    *out = d;
    return true;
  }
  return false;
}

json NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = NodeToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(NodeToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted: always a string
      bool b;
      if (ParseBool(text, &b)) return b;
      if (text == "null" || text == "Null" || text == "NULL" || text == "~") return nullptr;
      json number;
      if (ParseNumber(text, &number)) return number;
      return text;
    }
    default:
      return nullptr;
  }
}

absl::StatusOr<std::vector<json>> DocumentsToJson(std::string_view yaml) {
  std::vector<json> out;
  try {
    for (const YAML::Node& doc : YAML::LoadAll(std::string(yaml))) {
      if (!doc.IsDefined() || doc.IsNull()) continue;
      out.push_back(NodeToJson(doc));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("invalid YAML: ") + e.what());
  }
  return out;
}

}  // namespace weft::yaml
