// The route table as the data path sees it: plain C++ built once from Envoy's RouteConfiguration
// (by proxy/config) and shared immutably by every worker. Field names follow Envoy's v3 API
// (envoy.config.route.v3) so a reader can map each one back to the proto.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace re2 {
class RE2;
}

namespace weft::router {

using Milliseconds = std::chrono::milliseconds;

// envoy.type.matcher.v3.StringMatcher.
struct StringMatcher {
  enum class Kind { kExact, kPrefix, kSuffix, kContains, kRegex };
  Kind kind = Kind::kExact;
  std::string value;  // for kRegex, the pattern (compiled into `regex`)
  bool ignore_case = false;
  std::shared_ptr<const re2::RE2> regex;  // set iff kind == kRegex
};

// envoy.config.route.v3.HeaderMatcher. With neither `string_match` nor `present_match` set the
// header must be present (Envoy's behaviour for a matcher with only a name).
struct HeaderMatcher {
  std::string name;  // lower-case; ":method", ":authority" etc. allowed
  std::optional<StringMatcher> string_match;
  std::optional<bool> present_match;
  bool invert_match = false;
  bool treat_missing_header_as_empty = false;
};

// envoy.config.route.v3.QueryParameterMatcher.
struct QueryParameterMatcher {
  std::string name;
  std::optional<StringMatcher> string_match;
  bool present_match = false;
};

// envoy.config.route.v3.RouteMatch.
struct RouteMatch {
  enum class PathKind { kPrefix, kPath, kSafeRegex, kPathSeparatedPrefix };
  PathKind path_kind = PathKind::kPrefix;
  std::string path;                            // prefix, exact path, or regex pattern
  std::shared_ptr<const re2::RE2> path_regex;  // set iff kSafeRegex
  bool case_sensitive = true;
  std::vector<HeaderMatcher> headers;
  std::vector<QueryParameterMatcher> query_parameters;
};

// envoy.config.core.v3.HeaderValueOption, after validation.
struct HeaderValueOption {
  enum class AppendAction {
    kAppendIfExistsOrAdd,
    kAddIfAbsent,
    kOverwriteIfExistsOrAdd,
    kOverwriteIfExists
  };
  std::string name;   // lower-case
  std::string value;  // may hold %VARIABLE% tokens, expanded per request
  AppendAction action = AppendAction::kAppendIfExistsOrAdd;
  bool keep_empty_value = false;
};

// Header edits at one level (route configuration, virtual host, route, weighted cluster).
struct HeaderMutations {
  std::vector<HeaderValueOption> request_headers_to_add;
  std::vector<std::string> request_headers_to_remove;
  std::vector<HeaderValueOption> response_headers_to_add;
  std::vector<std::string> response_headers_to_remove;
  bool empty() const {
    return request_headers_to_add.empty() && request_headers_to_remove.empty() &&
           response_headers_to_add.empty() && response_headers_to_remove.empty();
  }
};

// envoy.config.route.v3.RouteAction.HashPolicy: how RING_HASH / MAGLEV pick a host.
struct HashPolicy {
  enum class Kind { kHeader, kCookie, kSourceIp, kQueryParameter, kFilterState };
  Kind kind = Kind::kHeader;
  std::string name;                        // header (lower-case), cookie or query parameter name
  std::optional<Milliseconds> cookie_ttl;  // cookie: generate one when absent if set
  std::string cookie_path;
  bool terminal = false;
};

struct WeightedCluster {
  std::string name;
  uint32_t weight = 0;
  HeaderMutations headers;
};

// A regex rewrite (envoy.type.matcher.v3.RegexMatchAndSubstitute).
struct RegexRewrite {
  std::shared_ptr<const re2::RE2> pattern;
  std::string substitution;  // RE2 syntax: \1 for groups
};

// envoy.config.route.v3.RouteAction (the part of it this issue supports; retries, mirrors and
// the rest of the resilience fields land with the proxy's part 2).
struct RouteAction {
  std::string cluster;  // one of cluster / weighted_clusters / cluster_header is set
  std::vector<WeightedCluster> weighted_clusters;
  uint32_t total_weight = 0;  // sum of weighted_clusters' weights
  std::string cluster_header;
  std::string prefix_rewrite;
  std::optional<RegexRewrite> regex_rewrite;
  std::string host_rewrite_literal;
  bool auto_host_rewrite = false;
  std::string host_rewrite_header;
  std::optional<RegexRewrite> host_rewrite_path_regex;
  Milliseconds timeout{15000};  // Envoy's default route timeout; 0 disables
  std::optional<Milliseconds> idle_timeout;
  std::vector<HashPolicy> hash_policy;
};

// envoy.config.route.v3.RedirectAction.
struct RedirectAction {
  std::string scheme_redirect;  // "https" also from https_redirect
  std::string host_redirect;
  uint32_t port_redirect = 0;
  std::string path_redirect;
  std::string prefix_rewrite;
  std::optional<RegexRewrite> regex_rewrite;
  uint32_t response_code = 301;
  bool strip_query = false;
};

// envoy.config.route.v3.DirectResponseAction.
struct DirectResponseAction {
  uint32_t status = 200;
  std::string body;
};

struct Route {
  std::string name;
  RouteMatch match;
  std::variant<RouteAction, RedirectAction, DirectResponseAction> action;
  HeaderMutations headers;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;  // as configured: "a.com", "a.com:80", "*.a.com", "a.*", "*"
  std::vector<Route> routes;
  HeaderMutations headers;
  enum class RequireTls { kNone, kExternalOnly, kAll };
  RequireTls require_tls = RequireTls::kNone;
};

// envoy.config.route.v3.RouteConfiguration.
struct RouteConfiguration {
  std::string name;
  std::vector<VirtualHost> virtual_hosts;
  HeaderMutations headers;
  std::vector<std::string> internal_only_headers;
  // Header mutation precedence; Envoy's default (false) applies the route configuration's own
  // mutations last, so the least specific level wins.
  bool most_specific_header_mutations_wins = false;
};

}  // namespace weft::router
