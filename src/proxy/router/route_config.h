// The route table as the data path sees it: plain C++ built once from Envoy's RouteConfiguration
// (by proxy/config) and shared immutably by every worker. Field names follow Envoy's v3 API
// (envoy.config.route.v3) so a reader can map each one back to the proto.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
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

// envoy.type.v3.FractionalPercent: numerator / denominator (100, 10000 or 1000000).
struct FractionalPercent {
  uint32_t numerator = 0;
  uint32_t denominator = 100;
  // True for a share `numerator / denominator` of uniformly distributed `random` values.
  bool Sample(uint64_t random) const { return random % denominator < numerator; }
  bool always() const { return numerator >= denominator; }
};

// envoy.config.route.v3.RetryPolicy. `retry_on` is a set of RetryOn bits.
struct RetryPolicy {
  enum RetryOn : uint32_t {
    k5xx = 1u << 0,                     // any 5xx, a reset, a connect failure, refused stream
    kGatewayError = 1u << 1,            // 502, 503, 504
    kReset = 1u << 2,                   // reset/disconnect before a response
    kConnectFailure = 1u << 3,          // connection could not be established
    kRetriable4xx = 1u << 4,            // 409
    kRefusedStream = 1u << 5,           // HTTP/2 REFUSED_STREAM
    kRetriableStatusCodes = 1u << 6,    // retriable_status_codes
    kRetriableHeaders = 1u << 7,        // retriable_headers
    kEnvoyRateLimited = 1u << 8,        // x-envoy-ratelimited in the response
    kGrpcCancelled = 1u << 9,           // grpc-status 1
    kGrpcDeadlineExceeded = 1u << 10,   // grpc-status 4
    kGrpcResourceExhausted = 1u << 11,  // grpc-status 8
    kGrpcUnavailable = 1u << 12,        // grpc-status 14
    kGrpcInternal = 1u << 13,           // grpc-status 13
    kResetBeforeRequest = 1u << 14,     // reset before any request byte was sent
  };
  uint32_t retry_on = 0;
  uint32_t num_retries = 1;  // Envoy's default when a retry policy is present
  Milliseconds per_try_timeout{0};
  Milliseconds per_try_idle_timeout{0};
  Milliseconds base_interval{25};  // retry_back_off; Envoy's default 25 ms
  Milliseconds max_interval{250};  // default 10 x base_interval
  std::vector<uint32_t> retriable_status_codes;
  std::vector<HeaderMatcher> retriable_headers;
  std::vector<HeaderMatcher> retriable_request_headers;
  bool previous_hosts = false;  // retry_host_predicate envoy.retry_host_predicates.previous_hosts
  uint32_t host_selection_retry_max_attempts = 1;
};

// envoy.config.route.v3.RouteAction.RequestMirrorPolicy.
struct RequestMirrorPolicy {
  std::string cluster;
  std::optional<FractionalPercent> runtime_fraction;  // default: every request
  bool disable_shadow_host_suffix_append = false;
};

// envoy.config.route.v3.RouteAction.MaxStreamDuration, and the legacy max_grpc_timeout fields.
struct MaxStreamDuration {
  std::optional<Milliseconds> max_stream_duration;
  // grpc-timeout header honoured, capped at this (0 = no cap); unset = header ignored.
  std::optional<Milliseconds> grpc_timeout_header_max;
  std::optional<Milliseconds> grpc_timeout_header_offset;
};

// A filter's per-route settings (typed_per_filter_config), built by proxy/config from the
// filter's own proto. Each filter defines its subclass.
struct RouteFilterConfig {
  virtual ~RouteFilterConfig() = default;
};
using PerFilterConfigs =
    std::map<std::string, std::shared_ptr<const RouteFilterConfig>, std::less<>>;

// A CORS policy: envoy.extensions.filters.http.cors.v3.CorsPolicy (typed_per_filter_config of the
// cors filter) or the deprecated envoy.config.route.v3.CorsPolicy (the `cors` field of a
// RouteAction or virtual host); both carry the same fields. Empty strings and unset optionals mean
// "not set here": the filter then takes the field from the next, less specific, policy (Envoy's
// CorsFilter resolves each field separately, route first).
struct CorsPolicy : RouteFilterConfig {
  std::vector<StringMatcher> allow_origin_string_match;  // any match allows the origin
  std::string allow_methods;   // access-control-allow-methods; "*" echoes the request's
  std::string allow_headers;   // access-control-allow-headers; "*" echoes the request's
  std::string expose_headers;  // access-control-expose-headers
  std::string max_age;         // access-control-max-age, as configured
  std::optional<bool> allow_credentials;
  std::optional<bool> allow_private_network_access;
  std::optional<bool> forward_not_matching_preflights;  // Envoy's default: true
  // Read from the most specific policy only. Unset filter_enabled: enabled for every request;
  // unset shadow_enabled: never (Envoy's CorsPolicyImplBase::enabled/shadowEnabled).
  std::optional<FractionalPercent> filter_enabled;
  std::optional<FractionalPercent> shadow_enabled;
};

// envoy.config.route.v3.RouteAction.
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
  std::optional<RetryPolicy> retry_policy;  // the route's, else the virtual host's
  std::vector<RequestMirrorPolicy> request_mirror_policies;
  MaxStreamDuration max_stream_duration;
  // The deprecated `cors` field; used only when no typed_per_filter_config of the cors filter
  // applies (on the route or its virtual host).
  std::shared_ptr<const CorsPolicy> cors;
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
  PerFilterConfigs per_filter_config;  // typed_per_filter_config
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;  // as configured: "a.com", "a.com:80", "*.a.com", "a.*", "*"
  std::vector<Route> routes;
  HeaderMutations headers;
  enum class RequireTls { kNone, kExternalOnly, kAll };
  RequireTls require_tls = RequireTls::kNone;
  PerFilterConfigs per_filter_config;      // typed_per_filter_config
  std::shared_ptr<const CorsPolicy> cors;  // deprecated `cors`, as on RouteAction
  std::optional<RetryPolicy> retry_policy;
  bool include_request_attempt_count = false;      // x-envoy-attempt-count upstream
  bool include_attempt_count_in_response = false;  // x-envoy-attempt-count downstream
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
