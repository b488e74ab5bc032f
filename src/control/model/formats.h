// The string formats Istio's validation checks (istio/istio pkg/config/validation): durations,
// RE2 regexes, DNS-1123 names, host names with wildcards, IPs and CIDRs. Each returns an error
// message, empty when the value is valid, so callers attach it to their field path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::control {

// Go's time.ParseDuration syntax, which Istio's CRDs accept ("1.5s", "100ms", "1h30m"); the
// protobuf JSON form ("1.5s") is a subset. Negative durations are refused. Nanoseconds.
std::optional<int64_t> ParseDuration(std::string_view s);
std::string DurationError(std::string_view s, int64_t min_ns = 0);

std::string RegexError(std::string_view pattern);  // RE2 syntax, as Envoy compiles it

bool IsDns1123Label(std::string_view s);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63
bool IsDns1123Subdomain(std::string_view s);  // labels joined by '.', <= 253
// "*", "*.example.com", "reviews", "reviews.default.svc.cluster.local"; what a host field takes.
std::string WildcardHostError(std::string_view host);
bool IsIp(std::string_view s);
bool IsCidrOrIp(std::string_view s);

}  // namespace weft::control
