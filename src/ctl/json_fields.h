// Tolerant reads of the JSON weftd answers with: a missing or mistyped field is "absent", never
// an exception, since weftctl prints whatever the server holds.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace weft::ctl {

// A string as it is, anything else as JSON text.
inline std::string Text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// o[key], or null when `o` is not an object or has no such key.
inline const nlohmann::json& Field(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kNull;
  return o.is_object() && o.contains(key) ? o[key] : kNull;
}

// o[key] as text, or `fallback` when absent.
inline std::string TextField(const nlohmann::json& o, const char* key,
                             const std::string& fallback = "") {
  const nlohmann::json& v = Field(o, key);
  return v.is_null() ? fallback : Text(v);
}

// o[key] when it is an array, else an empty array.
inline const nlohmann::json& Items(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json& v = Field(o, key);
  return v.is_array() ? v : kEmpty;
}

}  // namespace weft::ctl
