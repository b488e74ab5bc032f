// Splits a request target into its path and decoded query parameters, as browsers, curl and
// Kubernetes clients send them: '&'-separated key=value pairs, %XX escapes and '+' for space.
// A key without '=' maps to "". Later duplicates win.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace weft::http {

std::string PercentDecode(std::string_view s);

struct PathAndQuery {
  std::string_view path;  // a view into the request target
  std::map<std::string, std::string> query;
};
PathAndQuery SplitPathAndQuery(std::string_view target);

}  // namespace weft::http
