#include "proxy/router/hash_policy.h"

#include <algorithm>
#include <cstdio>

#include "absl/container/inlined_vector.h"
#include "proxy/access_log/substitution_formatter.h"
#include "proxy/router/route_matcher.h"
#include "proxy/upstream/hash.h"

namespace weft::router {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> HashHeader(const HashPolicy& policy, const http::HeaderMap& request) {
  absl::InlinedVector<std::string_view, 2> values;
  for (const auto& field : request) {
    if (field.name == policy.name) values.push_back(field.value);
  }
  if (values.empty()) return std::nullopt;
  // Sorted, so "a" then "b" hashes like "b" then "a" (Envoy does the same).
  std::sort(values.begin(), values.end());
  uint64_t hash = 0;
  for (std::string_view value : values) hash = upstream::HashKey(value, hash);
  return hash;
}

std::optional<uint64_t> HashQueryParameter(const HashPolicy& policy,
                                           const http::HeaderMap& request) {
  std::string_view query = SplitPathAndQuery(request.Path()).query;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == policy.name) {
      return upstream::HashKey(eq == std::string_view::npos ? std::string_view()
                                                            : pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> FindCookie(const http::HeaderMap& request, std::string_view name) {
  for (const auto& field : request) {
    if (field.name != "cookie") continue;
    std::string_view rest = field.value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = TrimSpaces(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || TrimSpaces(pair.substr(0, eq)) != name) continue;
      std::string_view value = TrimSpaces(pair.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return std::nullopt;
}

RequestHash ComputeRequestHash(const std::vector<HashPolicy>& policies,
                               const http::HeaderMap& request,
                               std::string_view downstream_remote_address) {
  RequestHash result;
  for (const HashPolicy& policy : policies) {
    std::optional<uint64_t> hash;
    switch (policy.kind) {
      case HashPolicy::Kind::kHeader:
        hash = HashHeader(policy, request);
        break;
      case HashPolicy::Kind::kCookie: {
        if (auto value = FindCookie(request, policy.name)) {
          hash = upstream::HashKey(*value);
        } else if (policy.cookie_ttl.has_value() && !downstream_remote_address.empty()) {
          // Derived from the client's address so retries before the cookie sticks agree.
          char hex[17];
          std::snprintf(
              hex, sizeof(hex), "%016llx",
              static_cast<unsigned long long>(upstream::HashKey(downstream_remote_address)));
          GeneratedCookie cookie{policy.name, hex, policy.cookie_path, *policy.cookie_ttl};
          hash = upstream::HashKey(cookie.value);
          result.set_cookie = std::move(cookie);
        }
        break;
      }
      case HashPolicy::Kind::kSourceIp: {
        const std::string_view ip = access_log::AddressWithoutPort(downstream_remote_address);
        if (!ip.empty()) hash = upstream::HashKey(ip);
        break;
      }
      case HashPolicy::Kind::kQueryParameter:
        hash = HashQueryParameter(policy, request);
        break;
      case HashPolicy::Kind::kFilterState:
        break;
    }
    if (hash.has_value()) {
      // Rotating keeps two identical policies from cancelling out (x ^ x == 0).
      const uint64_t previous =
          result.hash.has_value() ? ((*result.hash << 1) | (*result.hash >> 63)) : 0;
      result.hash = previous ^ *hash;
    }
    if (policy.terminal && result.hash.has_value()) break;
  }
  return result;
}

std::string FormatSetCookie(const GeneratedCookie& cookie) {
  std::string out;
  out.reserve(cookie.name.size() + cookie.value.size() + cookie.path.size() + 40);
  out.append(cookie.name).append("=\"").append(cookie.value).append("\"");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(cookie.ttl).count();
  if (seconds > 0) out.append("; Max-Age=").append(std::to_string(seconds));
  if (!cookie.path.empty()) out.append("; Path=").append(cookie.path);
  out.append("; HttpOnly");
  return out;
}

}  // namespace weft::router
