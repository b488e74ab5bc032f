// Cat(): string concatenation for error messages and field paths. Debian's Abseil is built with
// its own absl::string_view, so absl::StrCat does not take std::string_view; this takes both.
#pragma once

#include <concepts>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace weft::config {

namespace text_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, absl::string_view s) { out.append(s.data(), s.size()); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
requires(!std::same_as<T, bool> && !std::same_as<T, char>) void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace text_internal

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (text_internal::Append(out, args), ...);
  return out;
}

}  // namespace weft::config
