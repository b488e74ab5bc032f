#include "control/model/formats.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>
#include <charconv>

namespace weft::control {

std::optional<int64_t> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s == "0") return 0;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double number;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, number);
    if (ec != std::errc() || p != s.data() + i) return std::nullopt;
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") {  // us, µs, μs
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return std::nullopt;  // a unit is required after every number, as in Go
    }
    total += number * scale;
    if (total > 9.2e18) return std::nullopt;
  }
  return static_cast<int64_t>(total);
}

std::string DurationError(std::string_view s, int64_t min_ns) {
  std::optional<int64_t> ns = ParseDuration(s);
  if (!ns) return "not a valid duration (e.g. \"1.5s\", \"100ms\", \"1h30m\")";
  if (*ns < min_ns) {
    return min_ns == 1000000 ? "duration must be at least 1ms"
                             : "duration must be at least " + std::to_string(min_ns) + "ns";
  }
  return "";
}

std::string RegexError(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), options);
  return re.ok() ? "" : "not a valid RE2 regular expression: " + re.error();
}

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i != 0 && i + 1 != s.size())) return false;
  }
  return true;
}

bool IsDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDns1123Label(s.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string WildcardHostError(std::string_view host) {
  if (host == "*") return "";
  std::string_view rest = host;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (IsIp(rest)) return "";
  // Istio's ValidateWildcardDomain: labels of letters, digits and '-', up to 255 in all.
  if (rest.empty() || host.size() > 255) return "not a valid host name";
  size_t start = 0;
  while (true) {
    size_t dot = rest.find('.', start);
    std::string_view label = rest.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return "not a valid host name (a wildcard may only be the leading label, as in "
             "\"*.example.com\")";
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
        return "not a valid host name (a wildcard may only be the leading label, as in "
               "\"*.example.com\")";
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

bool IsIp(std::string_view s) {
  std::string text(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool IsCidrOrIp(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return IsIp(s);
  std::string_view ip = s.substr(0, slash), bits = s.substr(slash + 1);
  int n;
  auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  if (ec != std::errc() || p != bits.data() + bits.size() || n < 0) return false;
  return IsIp(ip) && n <= (ip.find(':') == std::string_view::npos ? 32 : 128);
}

}  // namespace weft::control
