#include "proxy/router/route_matcher.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

namespace weft::router {
namespace {

http::HeaderMap Request(std::string path) {
  http::HeaderMap headers;
  headers.Add(":method", "GET");
  headers.Add(":path", std::move(path));
  headers.Add(":authority", "a.com");
  return headers;
}

RouteMatch PathMatch(RouteMatch::PathKind kind, std::string path, bool case_sensitive = true) {
  RouteMatch match;
  match.path_kind = kind;
  match.path = std::move(path);
  match.case_sensitive = case_sensitive;
  if (kind == RouteMatch::PathKind::kSafeRegex) {
    match.path_regex = std::make_shared<const re2::RE2>(match.path);
  }
  return match;
}

StringMatcher Str(StringMatcher::Kind kind, std::string value, bool ignore_case = false) {
  StringMatcher m;
  m.kind = kind;
  m.value = std::move(value);
  m.ignore_case = ignore_case;
  if (kind == StringMatcher::Kind::kRegex) m.regex = std::make_shared<const re2::RE2>(m.value);
  return m;
}

TEST(PathMatchTest, Prefix) {
  auto m = PathMatch(RouteMatch::PathKind::kPrefix, "/api");
  EXPECT_TRUE(MatchRoute(m, Request("/api")));
  EXPECT_TRUE(MatchRoute(m, Request("/apix")));
  EXPECT_TRUE(MatchRoute(m, Request("/api/v1?x=1")));
  EXPECT_FALSE(MatchRoute(m, Request("/API")));
  EXPECT_FALSE(MatchRoute(m, Request("/ap?i")));  // the query is not part of the path
  EXPECT_TRUE(
      MatchRoute(PathMatch(RouteMatch::PathKind::kPrefix, "/api", false), Request("/API/x")));
}

TEST(PathMatchTest, ExactPath) {
  auto m = PathMatch(RouteMatch::PathKind::kPath, "/login");
  EXPECT_TRUE(MatchRoute(m, Request("/login")));
  EXPECT_TRUE(MatchRoute(m, Request("/login?next=/")));
  EXPECT_FALSE(MatchRoute(m, Request("/login/")));
  EXPECT_FALSE(MatchRoute(m, Request("/LOGIN")));
  EXPECT_TRUE(
      MatchRoute(PathMatch(RouteMatch::PathKind::kPath, "/login", false), Request("/LOGIN")));
}

TEST(PathMatchTest, SafeRegexIsFullMatchWithoutQuery) {
  auto m = PathMatch(RouteMatch::PathKind::kSafeRegex, "/users/[0-9]+");
  EXPECT_TRUE(MatchRoute(m, Request("/users/42")));
  EXPECT_TRUE(MatchRoute(m, Request("/users/42?full=1")));
  EXPECT_FALSE(MatchRoute(m, Request("/users/42/posts")));
  EXPECT_FALSE(MatchRoute(m, Request("/v1/users/42")));
}

TEST(PathMatchTest, PathSeparatedPrefix) {
  auto m = PathMatch(RouteMatch::PathKind::kPathSeparatedPrefix, "/api");
  EXPECT_TRUE(MatchRoute(m, Request("/api")));
  EXPECT_TRUE(MatchRoute(m, Request("/api/x")));
  EXPECT_TRUE(MatchRoute(m, Request("/api?q")));
  EXPECT_FALSE(MatchRoute(m, Request("/apix")));
  EXPECT_FALSE(MatchRoute(m, Request("/API/x")));
  EXPECT_TRUE(MatchRoute(PathMatch(RouteMatch::PathKind::kPathSeparatedPrefix, "/api", false),
                         Request("/API/x")));
}

TEST(StringMatcherTest, AllKinds) {
  using K = StringMatcher::Kind;
  EXPECT_TRUE(MatchString(Str(K::kExact, "abc"), "abc"));
  EXPECT_FALSE(MatchString(Str(K::kExact, "abc"), "ABC"));
  EXPECT_TRUE(MatchString(Str(K::kExact, "abc", true), "ABC"));
  EXPECT_TRUE(MatchString(Str(K::kPrefix, "ab"), "abc"));
  EXPECT_FALSE(MatchString(Str(K::kPrefix, "bc"), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kPrefix, "AB", true), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kSuffix, "bc"), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kSuffix, "BC", true), "abc"));
  EXPECT_FALSE(MatchString(Str(K::kSuffix, "ab"), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kContains, "b"), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kContains, "B", true), "abc"));
  EXPECT_FALSE(MatchString(Str(K::kContains, "B"), "abc"));
  EXPECT_TRUE(MatchString(Str(K::kRegex, "a.c"), "abc"));
  EXPECT_FALSE(MatchString(Str(K::kRegex, "a.c"), "abcd"));  // full match
}

HeaderMatcher Header(std::string name, std::optional<StringMatcher> sm = std::nullopt) {
  HeaderMatcher h;
  h.name = std::move(name);
  h.string_match = std::move(sm);
  return h;
}

TEST(HeaderMatchTest, ValuePresenceInvertAndMissing) {
  using K = StringMatcher::Kind;
  auto req = Request("/");
  req.Add("x-env", "prod");

  EXPECT_TRUE(MatchHeader(Header("x-env", Str(K::kExact, "prod")), req));
  EXPECT_FALSE(MatchHeader(Header("x-env", Str(K::kExact, "dev")), req));

  auto inverted = Header("x-env", Str(K::kExact, "dev"));
  inverted.invert_match = true;
  EXPECT_TRUE(MatchHeader(inverted, req));
  // A value matcher never matches a missing header, inverted or not.
  inverted.name = "x-missing";
  EXPECT_FALSE(MatchHeader(inverted, req));

  // Name only: must be present.
  EXPECT_TRUE(MatchHeader(Header("x-env"), req));
  EXPECT_FALSE(MatchHeader(Header("x-missing"), req));

  auto present = Header("x-missing");
  present.present_match = false;  // must be absent
  EXPECT_TRUE(MatchHeader(present, req));
  present.name = "x-env";
  EXPECT_FALSE(MatchHeader(present, req));
  present.present_match = true;
  present.invert_match = true;  // present, inverted = absent
  EXPECT_FALSE(MatchHeader(present, req));
  present.name = "x-missing";
  EXPECT_TRUE(MatchHeader(present, req));

  auto empty = Header("x-missing", Str(K::kExact, ""));
  EXPECT_FALSE(MatchHeader(empty, req));
  empty.treat_missing_header_as_empty = true;
  EXPECT_TRUE(MatchHeader(empty, req));
}

TEST(HeaderMatchTest, RepeatedHeaderJoinedByComma) {
  auto req = Request("/");
  req.Add("x-tag", "a");
  req.Add("x-tag", "b");
  EXPECT_TRUE(MatchHeader(Header("x-tag", Str(StringMatcher::Kind::kExact, "a,b")), req));
  EXPECT_FALSE(MatchHeader(Header("x-tag", Str(StringMatcher::Kind::kExact, "a")), req));
}

TEST(HeaderMatchTest, MethodViaPseudoHeader) {
  RouteMatch match = PathMatch(RouteMatch::PathKind::kPrefix, "/");
  match.headers.push_back(Header(":method", Str(StringMatcher::Kind::kExact, "POST")));
  EXPECT_FALSE(MatchRoute(match, Request("/")));
  auto post = Request("/");
  post.Set(":method", "POST");
  EXPECT_TRUE(MatchRoute(match, post));
}

TEST(QueryParameterMatchTest, Kinds) {
  QueryParameterMatcher debug;
  debug.name = "debug";
  debug.string_match = Str(StringMatcher::Kind::kExact, "1");
  EXPECT_TRUE(MatchQueryParameter(debug, "a=2&debug=1"));
  EXPECT_FALSE(MatchQueryParameter(debug, "debug=2"));
  EXPECT_FALSE(MatchQueryParameter(debug, "debugx=1"));
  EXPECT_FALSE(MatchQueryParameter(debug, "debug=2&debug=1"));  // the first one counts
  EXPECT_FALSE(MatchQueryParameter(debug, ""));

  QueryParameterMatcher present;
  present.name = "flag";
  present.present_match = true;
  EXPECT_TRUE(MatchQueryParameter(present, "x=1&flag"));
  EXPECT_TRUE(MatchQueryParameter(present, "flag="));
  EXPECT_FALSE(MatchQueryParameter(present, "x=flag"));

  RouteMatch match = PathMatch(RouteMatch::PathKind::kPrefix, "/");
  match.query_parameters.push_back(debug);
  EXPECT_TRUE(MatchRoute(match, Request("/p?debug=1#frag")));
  EXPECT_FALSE(MatchRoute(match, Request("/p?debug=0")));
}

}  // namespace
}  // namespace weft::router
