// Process-wide logging on spdlog. One logger; the level is changed at run time by the admin
// endpoint /logging?level=. Use WEFT_LOG(info, "fmt {}", x): the macro skips formatting entirely
// when the level is off, which matters on the data path.
#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

namespace weft::log {

// Sets the level by Envoy's names (trace, debug, info, warning/warn, error, critical, off).
// Returns false for an unknown name.
bool SetLevel(std::string_view name);
std::string_view LevelName();
void Init(std::string_view level);

}  // namespace weft::log

#define WEFT_LOG(level, ...)                                                \
  do {                                                                      \
    if (spdlog::should_log(spdlog::level::level)) spdlog::level(__VA_ARGS__); \
  } while (0)
