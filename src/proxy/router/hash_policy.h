// The request hash that RING_HASH and MAGLEV balance on, from a route's hash_policy list
// (envoy.config.route.v3.RouteAction.HashPolicy). Policies combine as Envoy's HashPolicyImpl
// does: each policy that yields a hash is folded in as rotl(previous, 1) XOR new; a terminal
// policy that produced a hash (so far) ends the list. No policy yielding a hash -> nullopt, and
// the load balancer falls back to a random pick.
//
// Kinds: header (all values of the header, sorted so order does not matter), cookie, source IP
// (downstream remote address without port) and query parameter (first value). A cookie policy
// with a ttl whose cookie is absent generates a value (derived from the client's address, so one
// client keeps one value), hashes it, and returns it for the connection manager to send back as
// Set-Cookie. filter_state is not supported (config refuses it) and yields nothing.
//
// The hash function is upstream::HashKey, the one the hash load balancers use for their rings.
//
// Thread-safety: free functions; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/header_map.h"
#include "proxy/router/route_config.h"

namespace weft::router {

// A cookie the proxy must set on the response because a cookie hash policy generated it.
struct GeneratedCookie {
  std::string name;
  std::string value;
  std::string path;
  Milliseconds ttl{0};
};

struct RequestHash {
  std::optional<uint64_t> hash;
  std::optional<GeneratedCookie> set_cookie;
};

RequestHash ComputeRequestHash(const std::vector<HashPolicy>& policies,
                               const http::HeaderMap& request,
                               std::string_view downstream_remote_address);

// The Set-Cookie header value for a generated cookie, as Envoy writes it:
//   name="value"; Max-Age=<seconds>; Path=<path>; HttpOnly   (Max-Age/Path only when set)
std::string FormatSetCookie(const GeneratedCookie& cookie);

// The value of cookie `name` in the request's Cookie header(s), without surrounding quotes.
std::optional<std::string_view> FindCookie(const http::HeaderMap& request, std::string_view name);

}  // namespace weft::router
