// What a matched route does to a request besides picking a cluster: path and host rewrites, and
// the local responses (redirect, direct response) a route can answer with instead of proxying.
// Semantics follow envoy.config.route.v3.RouteAction / RedirectAction / DirectResponseAction.
//
// Thread-safety: free functions over immutable config; the header map belongs to the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/header_map.h"
#include "proxy/router/route_config.h"

namespace weft::router {

inline constexpr std::string_view kEnvoyOriginalPathHeader = "x-envoy-original-path";

// Applies prefix_rewrite or regex_rewrite to ":path" for `route` (whose match selected the
// request). prefix_rewrite replaces the matched prefix (for prefix and path_separated_prefix
// routes) or the whole path (path and safe_regex routes); regex_rewrite runs RE2::GlobalReplace
// over the path without its query. The query string is kept either way. When the path changes
// and `keep_original_path` is set, the old value goes to x-envoy-original-path. Returns whether
// ":path" changed.
bool RewritePath(const Route& route, const RouteAction& action, http::HeaderMap& headers,
                 bool keep_original_path = true);

// Host rewrites decided from the request alone: host_rewrite_literal, host_rewrite_header (the
// header's first value, when present and non-empty) and host_rewrite_path_regex (GlobalReplace
// on the path without query). Returns whether ":authority" changed.
bool RewriteHost(const RouteAction& action, http::HeaderMap& headers);

// auto_host_rewrite: once the load balancer picked a host, its hostname (from EDS or the DNS
// cluster's address) becomes ":authority". An empty hostname leaves it alone. Returns whether
// ":authority" changed.
bool AutoRewriteHost(const RouteAction& action, std::string_view upstream_hostname,
                     http::HeaderMap& headers);

// The Location of a redirect, built as Envoy's Http::Utility::newUri does:
//   scheme: scheme_redirect, else the request's ":scheme" (else "http");
//   host:   host_redirect, else the request's ":authority", whose port is dropped when
//           port_redirect is set, or when the scheme changes from x-forwarded-proto's and the port
//           is that protocol's default (":80" for http, ":443" for https);
//   port:   ":<port_redirect>" when set;
//   path:   path_redirect (the request's query is appended unless path_redirect has its own),
//           else the path after the redirect's prefix_rewrite / regex_rewrite, else ":path";
//           a missing leading '/' is added; strip_query drops the query unless path_redirect
//           carries one.
std::string BuildRedirectLocation(const Route& route, const RedirectAction& redirect,
                                  const http::HeaderMap& request);

// A response the proxy sends itself instead of forwarding the request.
struct LocalResponse {
  uint32_t status = 200;
  std::string location;   // non-empty for redirects
  std::string_view body;  // borrowed from the route table
};

LocalResponse BuildRedirectResponse(const Route& route, const RedirectAction& redirect,
                                    const http::HeaderMap& request);
LocalResponse BuildDirectResponse(const DirectResponseAction& action);

}  // namespace weft::router
