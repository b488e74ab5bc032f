// envoy.filters.http.cors: Cross-Origin Resource Sharing, so browsers may call a service from
// pages served by other origins. The filter's own config (envoy.extensions.filters.http.cors.v3.
// Cors) is empty; the policy comes from the route: the filter's typed_per_filter_config
// (cors.v3.CorsPolicy) on the route and its virtual host, or, when neither has one, the
// deprecated `cors` fields of the RouteAction and VirtualHost. Semantics follow Envoy's
// CorsFilter (source/extensions/filters/http/cors/cors_filter.cc and
// docs/root/configuration/http/http_filters/cors_filter.rst):
//   - a request without an Origin header (or an empty one) passes untouched and is not counted;
//     so does a request whose route is a redirect or a direct response, or that matched none;
//   - with filter_enabled off and shadow_enabled on, the origin is only counted;
//   - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
//     filter with a 200 carrying the allow-* headers; if the origin is not allowed it is
//     forwarded upstream instead, unless forward_not_matching_preflights is false;
//   - any other request from an allowed origin goes upstream and its response gets
//     access-control-allow-origin (the request's origin), -allow-credentials and -expose-headers.
// Stats: <http stat prefix>cors.origin_valid / cors.origin_invalid (e.g.
// http.ingress_http.cors.origin_valid).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/header_map.h"
#include "proxy/filters/filter.h"
#include "proxy/router/route_config.h"

namespace weft::router {
struct RouteEntry;
}

namespace weft::filters {

// The policies that apply to one request, most specific first (route, then virtual host). Each
// field is read from the first policy that sets it; filter_enabled and shadow_enabled only from
// the most specific one (as Envoy's CorsFilter does).
struct CorsPolicyChain {
  const router::CorsPolicy* levels[2] = {nullptr, nullptr};

  bool empty() const { return levels[0] == nullptr; }
  const std::vector<router::StringMatcher>& allow_origins() const;
  std::string_view allow_methods() const;
  std::string_view allow_headers() const;
  std::string_view expose_headers() const;
  std::string_view max_age() const;
  bool allow_credentials() const;                // default false
  bool allow_private_network_access() const;     // default false
  bool forward_not_matching_preflights() const;  // default true
};

// The chain for a request on `route`: the typed_per_filter_config named `filter_name` on the
// route and on its virtual host; when neither has one, the deprecated `cors` fields. Empty when
// nothing applies or the route does not forward (redirect, direct response).
CorsPolicyChain FindCorsPolicies(const router::RouteEntry& route, std::string_view filter_name);

// Whether any allow_origin_string_match matcher accepts `origin` (a matcher accepting "*"
// allows every origin).
bool IsOriginAllowed(const CorsPolicyChain& policies, std::string_view origin);

// Whether `request` is a CORS preflight: OPTIONS with a non-empty Access-Control-Request-Method
// (the caller has checked Origin).
bool IsPreflight(const http::HeaderMap& request);

// The headers of the filter's answer to a preflight. access-control-allow-origin only when the
// origin is allowed; "*" in allow_methods / allow_headers echoes the request's
// Access-Control-Request-Method / -Headers.
void AddPreflightResponseHeaders(const CorsPolicyChain& policies, const http::HeaderMap& request,
                                 std::string origin_if_allowed, http::HeaderMap& response);

// The headers the response to an allowed cross-origin request gets.
void AddCorsResponseHeaders(const CorsPolicyChain& policies, std::string origin,
                            http::HeaderMap& response);

// `http_stat_prefix` is the connection manager's stat prefix as Envoy prints it
// ("http.<stat_prefix>."); the counters are built from it once.
std::unique_ptr<FilterFactory> CreateCorsFilterFactory(std::string name,
                                                       std::string_view http_stat_prefix);

}  // namespace weft::filters
