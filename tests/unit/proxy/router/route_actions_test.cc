#include "proxy/router/route_actions.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

namespace weft::router {
namespace {

http::HeaderMap Request(std::string authority, std::string path) {
  http::HeaderMap headers;
  headers.Add(":method", "GET");
  headers.Add(":scheme", "http");
  headers.Add(":path", std::move(path));
  headers.Add(":authority", std::move(authority));
  return headers;
}

Route PrefixRoute(std::string prefix) {
  Route route;
  route.match.path_kind = RouteMatch::PathKind::kPrefix;
  route.match.path = std::move(prefix);
  return route;
}

RegexRewrite Regex(std::string pattern, std::string substitution) {
  return {std::make_shared<const re2::RE2>(pattern), std::move(substitution)};
}

TEST(RewritePathTest, PrefixRewriteKeepsRestAndQuery) {
  Route route = PrefixRoute("/old");
  RouteAction action;
  action.prefix_rewrite = "/new";
  auto headers = Request("a.com", "/old/page?x=1");
  EXPECT_TRUE(RewritePath(route, action, headers));
  EXPECT_EQ(headers.Path(), "/new/page?x=1");
  EXPECT_EQ(headers.GetOr("x-envoy-original-path"), "/old/page?x=1");
}

TEST(RewritePathTest, PrefixRewriteOnExactPathReplacesWholePath) {
  Route route;
  route.match.path_kind = RouteMatch::PathKind::kPath;
  route.match.path = "/login";
  RouteAction action;
  action.prefix_rewrite = "/auth/login";
  auto headers = Request("a.com", "/login?next=x");
  EXPECT_TRUE(RewritePath(route, action, headers, /*keep_original_path=*/false));
  EXPECT_EQ(headers.Path(), "/auth/login?next=x");
  EXPECT_FALSE(headers.Has("x-envoy-original-path"));
}

TEST(RewritePathTest, RegexRewriteIsGlobalAndSkipsQuery) {
  Route route = PrefixRoute("/");
  RouteAction action;
  action.regex_rewrite = Regex("o", "0");
  auto headers = Request("a.com", "/foo/boo?o=o");
  EXPECT_TRUE(RewritePath(route, action, headers));
  EXPECT_EQ(headers.Path(), "/f00/b00?o=o");

  action.regex_rewrite = Regex("^/service/([^/]+)(/.*)$", "\\2/instance/\\1");
  headers = Request("a.com", "/service/foo/v1/api");
  EXPECT_TRUE(RewritePath(route, action, headers));
  EXPECT_EQ(headers.Path(), "/v1/api/instance/foo");
}

TEST(RewritePathTest, NothingToDo) {
  Route route = PrefixRoute("/");
  RouteAction action;
  auto headers = Request("a.com", "/x");
  EXPECT_FALSE(RewritePath(route, action, headers));
  EXPECT_EQ(headers.Path(), "/x");
  EXPECT_FALSE(headers.Has("x-envoy-original-path"));
}

TEST(RewriteHostTest, LiteralHeaderAndPathRegex) {
  RouteAction literal;
  literal.host_rewrite_literal = "internal.svc";
  auto headers = Request("a.com", "/x");
  EXPECT_TRUE(RewriteHost(literal, headers));
  EXPECT_EQ(headers.Authority(), "internal.svc");

  RouteAction from_header;
  from_header.host_rewrite_header = "x-target";
  headers = Request("a.com", "/x");
  EXPECT_FALSE(RewriteHost(from_header, headers));  // header absent: unchanged
  EXPECT_EQ(headers.Authority(), "a.com");
  headers.Add("x-target", "b.com");
  EXPECT_TRUE(RewriteHost(from_header, headers));
  EXPECT_EQ(headers.Authority(), "b.com");

  RouteAction from_path;
  from_path.host_rewrite_path_regex = Regex("^/prefix/(.+)/.+$", "\\1");
  headers = Request("a.com", "/prefix/backend.svc/path?q=1");
  EXPECT_TRUE(RewriteHost(from_path, headers));
  EXPECT_EQ(headers.Authority(), "backend.svc");
}

TEST(RewriteHostTest, AutoHostRewriteUsesUpstreamHostname) {
  RouteAction action;
  auto headers = Request("a.com", "/");
  EXPECT_FALSE(AutoRewriteHost(action, "up.internal", headers));  // not enabled
  action.auto_host_rewrite = true;
  EXPECT_FALSE(AutoRewriteHost(action, "", headers));
  EXPECT_TRUE(AutoRewriteHost(action, "up.internal", headers));
  EXPECT_EQ(headers.Authority(), "up.internal");
}

TEST(RedirectTest, LocationStrings) {
  Route route = PrefixRoute("/old");
  RedirectAction https;
  https.scheme_redirect = "https";
  EXPECT_EQ(BuildRedirectLocation(route, https, Request("a.com", "/old/p?x=1")),
            "https://a.com/old/p?x=1");

  // Switching away from x-forwarded-proto drops that protocol's default port.
  auto behind_lb = Request("a.com:80", "/p");
  behind_lb.Add("x-forwarded-proto", "http");
  EXPECT_EQ(BuildRedirectLocation(route, https, behind_lb), "https://a.com/p");
  // A non-default port stays.
  auto odd_port = Request("a.com:8080", "/p");
  odd_port.Add("x-forwarded-proto", "http");
  EXPECT_EQ(BuildRedirectLocation(route, https, odd_port), "https://a.com:8080/p");

  RedirectAction host_port;
  host_port.host_redirect = "b.com";
  host_port.port_redirect = 8443;
  EXPECT_EQ(BuildRedirectLocation(route, host_port, Request("a.com", "/p?q")),
            "http://b.com:8443/p?q");

  RedirectAction port_only;
  port_only.port_redirect = 9000;
  EXPECT_EQ(BuildRedirectLocation(route, port_only, Request("a.com:8080", "/p")),
            "http://a.com:9000/p");
  EXPECT_EQ(BuildRedirectLocation(route, port_only, Request("[::1]:8080", "/p")),
            "http://[::1]:9000/p");

  RedirectAction path;
  path.path_redirect = "/new";
  EXPECT_EQ(BuildRedirectLocation(route, path, Request("a.com", "/old?x=1")),
            "http://a.com/new?x=1");
  path.strip_query = true;
  EXPECT_EQ(BuildRedirectLocation(route, path, Request("a.com", "/old?x=1")), "http://a.com/new");
  path.path_redirect = "/new?y=2";  // its own query wins and is never stripped
  EXPECT_EQ(BuildRedirectLocation(route, path, Request("a.com", "/old?x=1")),
            "http://a.com/new?y=2");

  RedirectAction prefix;
  prefix.prefix_rewrite = "/new";
  EXPECT_EQ(BuildRedirectLocation(route, prefix, Request("a.com", "/old/page?q")),
            "http://a.com/new/page?q");
  RedirectAction regex;
  regex.regex_rewrite = Regex("^/old/(.*)$", "/v2/\\1");
  regex.strip_query = true;
  EXPECT_EQ(BuildRedirectLocation(route, regex, Request("a.com", "/old/x?q")), "http://a.com/v2/x");

  RedirectAction no_slash;
  no_slash.path_redirect = "relative";
  EXPECT_EQ(BuildRedirectLocation(route, no_slash, Request("a.com", "/x")),
            "http://a.com/relative");
}

TEST(RedirectTest, ResponseCodesAndDirectResponse) {
  Route route = PrefixRoute("/");
  for (uint32_t code : {301u, 302u, 303u, 307u, 308u}) {
    RedirectAction redirect;
    redirect.response_code = code;
    redirect.scheme_redirect = "https";
    LocalResponse response = BuildRedirectResponse(route, redirect, Request("a.com", "/"));
    EXPECT_EQ(response.status, code);
    EXPECT_EQ(response.location, "https://a.com/");
    EXPECT_TRUE(response.body.empty());
  }
  DirectResponseAction direct{.status = 503, .body = "maintenance"};
  LocalResponse response = BuildDirectResponse(direct);
  EXPECT_EQ(response.status, 503u);
  EXPECT_EQ(response.body, "maintenance");
  EXPECT_TRUE(response.location.empty());
}

}  // namespace
}  // namespace weft::router
