// Route matching predicates: does one envoy.config.route.v3.RouteMatch (path, headers, query
// parameters) accept a request? Pure functions over the immutable config and a request's
// headers; they allocate only when a header occurs several times and its values must be joined.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <string_view>
#include <vector>

#include "http/header_map.h"
#include "proxy/router/route_config.h"

namespace weft::router {

// envoy.type.matcher.v3.StringMatcher on one value. ignore_case applies to all kinds but regex.
bool MatchString(const StringMatcher& matcher, std::string_view value);

// One HeaderMatcher. Several fields named `matcher.name` are matched as their values joined by
// ",". A missing header: with treat_missing_header_as_empty it is matched as ""; otherwise a
// presence matcher (present_match, or a name-only matcher) answers "absent" and any value
// matcher fails, whatever invert_match says (Envoy's HeaderUtility behaviour).
bool MatchHeader(const HeaderMatcher& matcher, const http::HeaderMap& headers);

// One QueryParameterMatcher against the raw query string (the part after '?', without '#').
// The first occurrence of the name counts; "a" and "a=" both have the value "".
bool MatchQueryParameter(const QueryParameterMatcher& matcher, std::string_view query);

// The path part of a RouteMatch against the path without its query string.
bool MatchPath(const RouteMatch& match, std::string_view path_without_query);

// All of a RouteMatch: path, every header matcher and every query parameter matcher.
bool MatchRoute(const RouteMatch& match, const http::HeaderMap& headers);

// ":path" split into its path and query parts ("#fragment" dropped).
struct SplitPath {
  std::string_view path;
  std::string_view query;  // without the '?'
};
SplitPath SplitPathAndQuery(std::string_view path_header);

// ASCII case-insensitive helpers (hostnames, paths with case_sensitive=false).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix);

}  // namespace weft::router
