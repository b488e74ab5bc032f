#include "base/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace weft::log {

bool SetLevel(std::string_view name) {
  spdlog::level::level_enum level;
  if (name == "trace")
    level = spdlog::level::trace;
  else if (name == "debug")
    level = spdlog::level::debug;
  else if (name == "info")
    level = spdlog::level::info;
  else if (name == "warning" || name == "warn")
    level = spdlog::level::warn;
  else if (name == "error")
    level = spdlog::level::err;
  else if (name == "critical")
    level = spdlog::level::critical;
  else if (name == "off")
    level = spdlog::level::off;
  else
    return false;
  spdlog::set_level(level);
  return true;
}

std::string_view LevelName() {
  switch (spdlog::get_level()) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

void Init(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("weft");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%t][%^%l%$] %v");
  SetLevel(level);
}

}  // namespace weft::log
