// Process-wide logging on spdlog. One logger; the level is changed at run time by the admin
// endpoint /logging?level=. Use WEFT_LOG(info, "fmt {}", x): the macro skips formatting entirely
// when the level is off, which matters on the data path.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "absl/strings/string_view.h"

// Debian's abseil has its own string_view type (not std's): let log lines print it, e.g.
// status.message().
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

namespace weft::log {

// Sets the level by Envoy's names (trace, debug, info, warning/warn, error, critical, off).
// Returns false for an unknown name.
bool SetLevel(std::string_view name);
std::string_view LevelName();
void Init(std::string_view level);

}  // namespace weft::log

namespace weft::log::level {
// WEFT_LOG's level names, mapped to spdlog's enum (whose "error" is spelled "err").
inline constexpr auto trace = spdlog::level::trace;
inline constexpr auto debug = spdlog::level::debug;
inline constexpr auto info = spdlog::level::info;
inline constexpr auto warn = spdlog::level::warn;
inline constexpr auto error = spdlog::level::err;
inline constexpr auto critical = spdlog::level::critical;
}  // namespace weft::log::level

#define WEFT_LOG(lvl, ...)                                                     \
  do {                                                                         \
    if (spdlog::should_log(::weft::log::level::lvl)) spdlog::lvl(__VA_ARGS__); \
  } while (0)
