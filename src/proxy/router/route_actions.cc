#include "proxy/router/route_actions.h"

#include <re2/re2.h>

#include "proxy/router/route_matcher.h"

namespace weft::router {
namespace {

// Computes the rewritten path (with query) or returns false when neither rewrite applies.
bool ComputeRewrittenPath(const Route& route, std::string_view prefix_rewrite,
                          const std::optional<RegexRewrite>& regex_rewrite,
                          std::string_view path_header, std::string& new_path) {
  const SplitPath split = SplitPathAndQuery(path_header);
  // The query (and a fragment, if a client sent one) is carried over untouched.
  const std::string_view tail = path_header.substr(split.path.size());
  if (!prefix_rewrite.empty()) {
    size_t matched = split.path.size();
    const auto kind = route.match.path_kind;
    if (kind == RouteMatch::PathKind::kPrefix ||
        kind == RouteMatch::PathKind::kPathSeparatedPrefix) {
      matched = std::min(route.match.path.size(), split.path.size());
    }
    new_path.reserve(prefix_rewrite.size() + path_header.size() - matched);
    new_path.assign(prefix_rewrite);
    new_path.append(path_header.substr(matched));
    return true;
  }
  if (regex_rewrite.has_value() && regex_rewrite->pattern != nullptr) {
    new_path.assign(split.path);
    RE2::GlobalReplace(&new_path, *regex_rewrite->pattern, regex_rewrite->substitution);
    new_path.append(tail);
    return true;
  }
  return false;
}

}  // namespace

bool RewritePath(const Route& route, const RouteAction& action, http::HeaderMap& headers,
                 bool keep_original_path) {
  const std::string_view path = headers.Path();
  std::string new_path;
  if (!ComputeRewrittenPath(route, action.prefix_rewrite, action.regex_rewrite, path, new_path)) {
    return false;
  }
  if (new_path == path) return false;
  if (keep_original_path) headers.Set(kEnvoyOriginalPathHeader, std::string(path));
  headers.Set(":path", std::move(new_path));
  return true;
}

bool RewriteHost(const RouteAction& action, http::HeaderMap& headers) {
  if (!action.host_rewrite_literal.empty()) {
    headers.Set(":authority", action.host_rewrite_literal);
    return true;
  }
  if (!action.host_rewrite_header.empty()) {
    const std::string* value = headers.Get(action.host_rewrite_header);
    if (value == nullptr || value->empty()) return false;
    headers.Set(":authority", *value);
    return true;
  }
  if (action.host_rewrite_path_regex.has_value() && action.host_rewrite_path_regex->pattern) {
    std::string host(SplitPathAndQuery(headers.Path()).path);
    RE2::GlobalReplace(&host, *action.host_rewrite_path_regex->pattern,
                       action.host_rewrite_path_regex->substitution);
    if (host.empty()) return false;
    headers.Set(":authority", std::move(host));
    return true;
  }
  return false;
}

bool AutoRewriteHost(const RouteAction& action, std::string_view upstream_hostname,
                     http::HeaderMap& headers) {
  if (!action.auto_host_rewrite || upstream_hostname.empty()) return false;
  headers.Set(":authority", std::string(upstream_hostname));
  return true;
}

namespace {

// Envoy's processRequestHost: the request's host, with its port dropped when the redirect sets
// a port or when switching away from x-forwarded-proto makes a default port wrong.
std::string_view RedirectHostFromRequest(const http::HeaderMap& request, std::string_view scheme,
                                         bool has_new_port) {
  std::string_view host = request.Authority();
  if (host.empty()) host = request.GetOr("host");
  if (host.empty()) return host;
  size_t port_start;
  if (host[0] == '[') {
    port_start = host.rfind("]:");
    if (port_start != std::string_view::npos) port_start += 1;
  } else {
    port_start = host.rfind(':');
  }
  if (port_start == std::string_view::npos) return host;
  const std::string_view port = host.substr(port_start);
  const std::string_view forwarded_proto = request.GetOr("x-forwarded-proto");
  bool remove_port = has_new_port;
  if (scheme != forwarded_proto) {
    remove_port |= forwarded_proto == "https" && port == ":443";
    remove_port |= forwarded_proto == "http" && port == ":80";
  }
  return remove_port ? host.substr(0, port_start) : host;
}

}  // namespace

std::string BuildRedirectLocation(const Route& route, const RedirectAction& redirect,
                                  const http::HeaderMap& request) {
  std::string_view scheme = redirect.scheme_redirect;
  if (scheme.empty()) scheme = request.Scheme();
  if (scheme.empty()) scheme = "http";

  std::string port;
  if (redirect.port_redirect != 0) port = ":" + std::to_string(redirect.port_redirect);

  const std::string_view host = !redirect.host_redirect.empty()
                                    ? std::string_view(redirect.host_redirect)
                                    : RedirectHostFromRequest(request, scheme, !port.empty());

  const std::string_view request_path = request.Path();
  std::string path;
  const bool path_redirect_has_query = redirect.path_redirect.find('?') != std::string::npos;
  if (!redirect.path_redirect.empty()) {
    path = redirect.path_redirect;
    if (!path_redirect_has_query) {
      const size_t query = request_path.find('?');
      if (query != std::string_view::npos) path.append(request_path.substr(query));
    }
  } else if (!ComputeRewrittenPath(route, redirect.prefix_rewrite, redirect.regex_rewrite,
                                   request_path, path)) {
    path.assign(request_path);
  }
  if (path.empty() || path[0] != '/') path.insert(path.begin(), '/');
  if (!path_redirect_has_query && redirect.strip_query) {
    const size_t query = path.find('?');
    if (query != std::string::npos) path.resize(query);
  }

  std::string location;
  location.reserve(scheme.size() + 3 + host.size() + port.size() + path.size());
  location.append(scheme).append("://").append(host).append(port).append(path);
  return location;
}

LocalResponse BuildRedirectResponse(const Route& route, const RedirectAction& redirect,
                                    const http::HeaderMap& request) {
  LocalResponse response;
  response.status = redirect.response_code;
  response.location = BuildRedirectLocation(route, redirect, request);
  return response;
}

LocalResponse BuildDirectResponse(const DirectResponseAction& action) {
  LocalResponse response;
  response.status = action.status;
  response.body = action.body;
  return response;
}

}  // namespace weft::router
