// envoy.config.route.v3.RouteConfiguration -> router::RouteConfiguration.
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/translate_filters.h"
#include "proxy/router/retry_state.h"

// Weft accepts Envoy's deprecated spellings (they are still valid v3 config), so reading them
// here is intended.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace weft::config {
namespace {

namespace route = envoy::config::route::v3;

absl::StatusOr<router::RouteMatch> TranslateMatch(const route::RouteMatch& m,
                                                  std::string_view path) {
  router::RouteMatch out;
  switch (m.path_specifier_case()) {
    case route::RouteMatch::kPrefix:
      out.path_kind = router::RouteMatch::PathKind::kPrefix;
      out.path = m.prefix();
      break;
    case route::RouteMatch::kPath:
      out.path_kind = router::RouteMatch::PathKind::kPath;
      out.path = m.path();
      break;
    case route::RouteMatch::kSafeRegex: {
      out.path_kind = router::RouteMatch::PathKind::kSafeRegex;
      out.path = m.safe_regex().regex();
      ASSIGN_OR_RETURN(out.path_regex, CompileRegex(m.safe_regex(), FieldPath(path, "safe_regex")));
      break;
    }
    case route::RouteMatch::kPathSeparatedPrefix: {
      const std::string& p = m.path_separated_prefix();
      // Envoy's rule: starts with '/', does not end with one, no '?' or '#'.
      if (p.empty() || p.front() != '/' || (p.size() > 1 && p.back() == '/') ||
          p.find_first_of("?#") != std::string::npos) {
        return ConfigError(FieldPath(path, "path_separated_prefix"),
                           "must start with '/', not end with '/', and hold no '?' or '#'");
      }
      out.path_kind = router::RouteMatch::PathKind::kPathSeparatedPrefix;
      out.path = p;
      break;
    }
    default:
      return ConfigError(path, "needs prefix, path, safe_regex or path_separated_prefix");
  }
  if (m.has_case_sensitive()) out.case_sensitive = m.case_sensitive().value();
  for (int i = 0; i < m.headers_size(); ++i) {
    router::HeaderMatcher h;
    ASSIGN_OR_RETURN(h, TranslateHeaderMatcher(m.headers(i), IndexPath(path, "headers", i)));
    out.headers.push_back(std::move(h));
  }
  for (int i = 0; i < m.query_parameters_size(); ++i) {
    const route::QueryParameterMatcher& q = m.query_parameters(i);
    const std::string q_path = IndexPath(path, "query_parameters", i);
    router::QueryParameterMatcher qm;
    qm.name = q.name();
    if (qm.name.empty()) return ConfigError(FieldPath(q_path, "name"), "is required");
    if (q.has_string_match()) {
      router::StringMatcher s;
      ASSIGN_OR_RETURN(s,
                       TranslateStringMatcher(q.string_match(), FieldPath(q_path, "string_match")));
      qm.string_match = std::move(s);
    } else {
      // Envoy: with no specifier the parameter must be present.
      qm.present_match = true;
    }
    out.query_parameters.push_back(std::move(qm));
  }
  return out;
}

absl::StatusOr<router::HashPolicy> TranslateHashPolicy(const route::RouteAction::HashPolicy& h,
                                                       std::string_view path) {
  using Proto = route::RouteAction::HashPolicy;
  router::HashPolicy out;
  out.terminal = h.terminal();
  switch (h.policy_specifier_case()) {
    case Proto::kHeader:
      out.kind = router::HashPolicy::Kind::kHeader;
      out.name = absl::AsciiStrToLower(h.header().header_name());
      break;
    case Proto::kCookie:
      out.kind = router::HashPolicy::Kind::kCookie;
      out.name = h.cookie().name();
      if (h.cookie().has_ttl()) out.cookie_ttl = ToMilliseconds(h.cookie().ttl());
      out.cookie_path = h.cookie().path();
      break;
    case Proto::kConnectionProperties:
      if (!h.connection_properties().source_ip()) {
        return ConfigError(FieldPath(path, "connection_properties.source_ip"), "must be true");
      }
      out.kind = router::HashPolicy::Kind::kSourceIp;
      break;
    case Proto::kQueryParameter:
      out.kind = router::HashPolicy::Kind::kQueryParameter;
      out.name = h.query_parameter().name();
      break;
    case Proto::kFilterState:
      out.kind = router::HashPolicy::Kind::kFilterState;
      out.name = h.filter_state().key();
      break;
    default:
      return ConfigError(path,
                         "needs header, cookie, connection_properties, query_parameter or "
                         "filter_state");
  }
  if (out.kind != router::HashPolicy::Kind::kSourceIp && out.name.empty()) {
    return ConfigError(path, "the hash policy needs a name");
  }
  return out;
}

absl::StatusOr<router::RetryPolicy> TranslateRetryPolicy(const route::RetryPolicy& r,
                                                         std::string_view path) {
  router::RetryPolicy out;
  auto retry_on = router::ParseRetryOn(r.retry_on());
  if (!retry_on.ok()) return ConfigError(FieldPath(path, "retry_on"), retry_on.status().message());
  out.retry_on = *retry_on;
  if (r.has_num_retries()) out.num_retries = r.num_retries().value();
  if (r.has_per_try_timeout()) out.per_try_timeout = ToMilliseconds(r.per_try_timeout());
  if (r.has_retry_back_off()) {
    const std::string b_path = FieldPath(path, "retry_back_off");
    if (!r.retry_back_off().has_base_interval()) {
      return ConfigError(FieldPath(b_path, "base_interval"), "is required");
    }
    out.base_interval = ToMilliseconds(r.retry_back_off().base_interval());
    if (out.base_interval.count() <= 0) {
      return ConfigError(FieldPath(b_path, "base_interval"), "must be > 0");
    }
    // Envoy's default max_interval is 10 times base_interval.
    out.max_interval = r.retry_back_off().has_max_interval()
                           ? ToMilliseconds(r.retry_back_off().max_interval())
                           : out.base_interval * 10;
    if (out.max_interval < out.base_interval) {
      return ConfigError(FieldPath(b_path, "max_interval"), "must be >= base_interval");
    }
  }
  for (uint32_t code : r.retriable_status_codes()) out.retriable_status_codes.push_back(code);
  for (int i = 0; i < r.retriable_headers_size(); ++i) {
    ASSIGN_OR_RETURN(
        router::HeaderMatcher m,
        TranslateHeaderMatcher(r.retriable_headers(i), IndexPath(path, "retriable_headers", i)));
    out.retriable_headers.push_back(std::move(m));
  }
  for (int i = 0; i < r.retriable_request_headers_size(); ++i) {
    ASSIGN_OR_RETURN(router::HeaderMatcher m,
                     TranslateHeaderMatcher(r.retriable_request_headers(i),
                                            IndexPath(path, "retriable_request_headers", i)));
    out.retriable_request_headers.push_back(std::move(m));
  }
  for (int i = 0; i < r.retry_host_predicate_size(); ++i) {
    const auto& p = r.retry_host_predicate(i);
    const std::string p_path = IndexPath(path, "retry_host_predicate", i);
    ASSIGN_OR_RETURN(const KnownExtension* ext,
                     ResolveExtension(p.name(), p.has_typed_config() ? &p.typed_config() : nullptr,
                                      ExtensionKind::kRetryHostPredicate, p_path));
    if (ext->name == "envoy.retry_host_predicates.previous_hosts") out.previous_hosts = true;
  }
  if (r.host_selection_retry_max_attempts() < 0) {
    return ConfigError(FieldPath(path, "host_selection_retry_max_attempts"), "must be >= 0");
  }
  if (r.host_selection_retry_max_attempts() > 0) {
    out.host_selection_retry_max_attempts =
        static_cast<uint32_t>(std::min<int64_t>(r.host_selection_retry_max_attempts(), 100));
  }
  return out;
}

absl::StatusOr<router::RouteAction> TranslateRouteAction(const route::RouteAction& a,
                                                         std::string_view path) {
  router::RouteAction out;
  switch (a.cluster_specifier_case()) {
    case route::RouteAction::kCluster:
      out.cluster = a.cluster();
      if (out.cluster.empty()) return ConfigError(FieldPath(path, "cluster"), "is empty");
      break;
    case route::RouteAction::kClusterHeader:
      out.cluster_header = absl::AsciiStrToLower(a.cluster_header());
      break;
    case route::RouteAction::kWeightedClusters: {
      const std::string wc_path = FieldPath(path, "weighted_clusters");
      const route::WeightedCluster& wc = a.weighted_clusters();
      uint64_t total = 0;
      for (int i = 0; i < wc.clusters_size(); ++i) {
        const auto& c = wc.clusters(i);
        const std::string c_path = IndexPath(wc_path, "clusters", i);
        router::WeightedCluster w;
        w.name = c.name();
        if (w.name.empty()) return ConfigError(FieldPath(c_path, "name"), "is required");
        w.weight = c.has_weight() ? c.weight().value() : 0;
        ASSIGN_OR_RETURN(w.headers, TranslateHeaderMutations(c, c_path));
        total += w.weight;
        out.weighted_clusters.push_back(std::move(w));
      }
      if (wc.clusters_size() == 0) {
        return ConfigError(FieldPath(wc_path, "clusters"), "needs at least one cluster");
      }
      if (total == 0) return ConfigError(wc_path, "the weights must sum to more than 0");
      if (total > UINT32_MAX) return ConfigError(wc_path, "the weights sum exceeds 2^32-1");
      if (wc.has_total_weight() && wc.total_weight().value() != total) {
        return ConfigError(FieldPath(wc_path, "total_weight"), "is ", wc.total_weight().value(),
                           " but the weights sum to ", total);
      }
      out.total_weight = static_cast<uint32_t>(total);
      break;
    }
    default:
      return ConfigError(path, "needs cluster, cluster_header or weighted_clusters");
  }
  out.prefix_rewrite = a.prefix_rewrite();
  if (a.has_regex_rewrite()) {
    if (!out.prefix_rewrite.empty()) {
      return ConfigError(path, "prefix_rewrite and regex_rewrite are mutually exclusive");
    }
    router::RegexRewrite r;
    ASSIGN_OR_RETURN(r, TranslateRegexRewrite(a.regex_rewrite(), FieldPath(path, "regex_rewrite")));
    out.regex_rewrite = std::move(r);
  }
  switch (a.host_rewrite_specifier_case()) {
    case route::RouteAction::kHostRewriteLiteral:
      out.host_rewrite_literal = a.host_rewrite_literal();
      break;
    case route::RouteAction::kAutoHostRewrite:
      out.auto_host_rewrite = a.auto_host_rewrite().value();
      break;
    case route::RouteAction::kHostRewriteHeader:
      out.host_rewrite_header = absl::AsciiStrToLower(a.host_rewrite_header());
      break;
    case route::RouteAction::kHostRewritePathRegex: {
      router::RegexRewrite r;
      ASSIGN_OR_RETURN(r, TranslateRegexRewrite(a.host_rewrite_path_regex(),
                                                FieldPath(path, "host_rewrite_path_regex")));
      out.host_rewrite_path_regex = std::move(r);
      break;
    }
    default:
      break;
  }
  if (a.has_timeout()) out.timeout = ToMilliseconds(a.timeout());
  if (a.has_idle_timeout()) out.idle_timeout = ToMilliseconds(a.idle_timeout());
  for (int i = 0; i < a.hash_policy_size(); ++i) {
    router::HashPolicy h;
    ASSIGN_OR_RETURN(h, TranslateHashPolicy(a.hash_policy(i), IndexPath(path, "hash_policy", i)));
    out.hash_policy.push_back(std::move(h));
  }
  if (a.has_retry_policy()) {
    ASSIGN_OR_RETURN(out.retry_policy,
                     TranslateRetryPolicy(a.retry_policy(), FieldPath(path, "retry_policy")));
  }
  if (a.has_cors()) {
    ASSIGN_OR_RETURN(out.cors, TranslateRouteCorsPolicy(a.cors(), FieldPath(path, "cors")));
  }
  for (int i = 0; i < a.request_mirror_policies_size(); ++i) {
    const auto& m = a.request_mirror_policies(i);
    const std::string m_path = IndexPath(path, "request_mirror_policies", i);
    if (m.cluster().empty()) return ConfigError(FieldPath(m_path, "cluster"), "is required");
    router::RequestMirrorPolicy mirror;
    mirror.cluster = m.cluster();
    if (m.has_runtime_fraction()) {
      mirror.runtime_fraction = TranslateFractionalPercent(m.runtime_fraction().default_value());
    }
    mirror.disable_shadow_host_suffix_append = m.disable_shadow_host_suffix_append();
    out.request_mirror_policies.push_back(std::move(mirror));
  }
  if (a.has_max_stream_duration()) {
    const auto& d = a.max_stream_duration();
    if (d.has_max_stream_duration()) {
      out.max_stream_duration.max_stream_duration = ToMilliseconds(d.max_stream_duration());
    }
    if (d.has_grpc_timeout_header_max()) {
      out.max_stream_duration.grpc_timeout_header_max = ToMilliseconds(d.grpc_timeout_header_max());
    }
    if (d.has_grpc_timeout_header_offset()) {
      out.max_stream_duration.grpc_timeout_header_offset =
          ToMilliseconds(d.grpc_timeout_header_offset());
    }
  }
  // The deprecated spellings mean the same: honour grpc-timeout, capped / offset.
  if (a.has_max_grpc_timeout() && !out.max_stream_duration.grpc_timeout_header_max) {
    out.max_stream_duration.grpc_timeout_header_max = ToMilliseconds(a.max_grpc_timeout());
  }
  if (a.has_grpc_timeout_offset() && !out.max_stream_duration.grpc_timeout_header_offset) {
    out.max_stream_duration.grpc_timeout_header_offset = ToMilliseconds(a.grpc_timeout_offset());
  }
  return out;
}

absl::StatusOr<router::RedirectAction> TranslateRedirect(const route::RedirectAction& r,
                                                         std::string_view path) {
  router::RedirectAction out;
  if (r.scheme_rewrite_specifier_case() == route::RedirectAction::kHttpsRedirect) {
    if (r.https_redirect()) out.scheme_redirect = "https";
  } else {
    out.scheme_redirect = r.scheme_redirect();
  }
  out.host_redirect = r.host_redirect();
  out.port_redirect = r.port_redirect();
  if (out.port_redirect > 65535) {
    return ConfigError(FieldPath(path, "port_redirect"), "must be at most 65535");
  }
  switch (r.path_rewrite_specifier_case()) {
    case route::RedirectAction::kPathRedirect:
      out.path_redirect = r.path_redirect();
      break;
    case route::RedirectAction::kPrefixRewrite:
      out.prefix_rewrite = r.prefix_rewrite();
      break;
    case route::RedirectAction::kRegexRewrite: {
      router::RegexRewrite rr;
      ASSIGN_OR_RETURN(rr,
                       TranslateRegexRewrite(r.regex_rewrite(), FieldPath(path, "regex_rewrite")));
      out.regex_rewrite = std::move(rr);
      break;
    }
    default:
      break;
  }
  switch (r.response_code()) {
    case route::RedirectAction::MOVED_PERMANENTLY:
      out.response_code = 301;
      break;
    case route::RedirectAction::FOUND:
      out.response_code = 302;
      break;
    case route::RedirectAction::SEE_OTHER:
      out.response_code = 303;
      break;
    case route::RedirectAction::TEMPORARY_REDIRECT:
      out.response_code = 307;
      break;
    case route::RedirectAction::PERMANENT_REDIRECT:
      out.response_code = 308;
      break;
    default:
      return ConfigError(FieldPath(path, "response_code"), "unknown value");
  }
  out.strip_query = r.strip_query();
  return out;
}

absl::StatusOr<router::Route> TranslateRoute(const route::Route& r, std::string_view path) {
  router::Route out;
  out.name = r.name();
  if (!r.has_match()) return ConfigError(FieldPath(path, "match"), "is required");
  ASSIGN_OR_RETURN(out.match, TranslateMatch(r.match(), FieldPath(path, "match")));
  switch (r.action_case()) {
    case route::Route::kRoute: {
      router::RouteAction a;
      ASSIGN_OR_RETURN(a, TranslateRouteAction(r.route(), FieldPath(path, "route")));
      out.action = std::move(a);
      break;
    }
    case route::Route::kRedirect: {
      router::RedirectAction a;
      ASSIGN_OR_RETURN(a, TranslateRedirect(r.redirect(), FieldPath(path, "redirect")));
      out.action = std::move(a);
      break;
    }
    case route::Route::kDirectResponse: {
      const std::string dr_path = FieldPath(path, "direct_response");
      router::DirectResponseAction a;
      a.status = r.direct_response().status();
      if (a.status < 100 || a.status > 599) {
        return ConfigError(FieldPath(dr_path, "status"), "must be in [100, 599]");
      }
      if (r.direct_response().has_body()) {
        ASSIGN_OR_RETURN(
            a.body, TranslateDataSource(r.direct_response().body(), FieldPath(dr_path, "body")));
      }
      out.action = std::move(a);
      break;
    }
    default:
      return ConfigError(path, "needs route, redirect or direct_response");
  }
  ASSIGN_OR_RETURN(out.headers, TranslateHeaderMutations(r, path));
  ASSIGN_OR_RETURN(out.per_filter_config,
                   TranslatePerFilterConfigs(r.typed_per_filter_config(),
                                             FieldPath(path, "typed_per_filter_config")));
  return out;
}

absl::StatusOr<router::VirtualHost> TranslateVirtualHost(const route::VirtualHost& v,
                                                         std::string_view path) {
  router::VirtualHost out;
  out.name = v.name();
  if (v.domains_size() == 0) {
    return ConfigError(FieldPath(path, "domains"), "needs at least one domain");
  }
  for (int i = 0; i < v.domains_size(); ++i) {
    if (v.domains(i).empty()) return ConfigError(IndexPath(path, "domains", i), "is empty");
    out.domains.push_back(absl::AsciiStrToLower(v.domains(i)));
  }
  for (int i = 0; i < v.routes_size(); ++i) {
    router::Route r;
    ASSIGN_OR_RETURN(r, TranslateRoute(v.routes(i), IndexPath(path, "routes", i)));
    out.routes.push_back(std::move(r));
  }
  switch (v.require_tls()) {
    case route::VirtualHost::EXTERNAL_ONLY:
      out.require_tls = router::VirtualHost::RequireTls::kExternalOnly;
      break;
    case route::VirtualHost::ALL:
      out.require_tls = router::VirtualHost::RequireTls::kAll;
      break;
    default:
      break;
  }
  ASSIGN_OR_RETURN(out.headers, TranslateHeaderMutations(v, path));
  ASSIGN_OR_RETURN(out.per_filter_config,
                   TranslatePerFilterConfigs(v.typed_per_filter_config(),
                                             FieldPath(path, "typed_per_filter_config")));
  if (v.has_cors()) {
    ASSIGN_OR_RETURN(out.cors, TranslateRouteCorsPolicy(v.cors(), FieldPath(path, "cors")));
  }
  if (v.has_retry_policy()) {
    ASSIGN_OR_RETURN(out.retry_policy,
                     TranslateRetryPolicy(v.retry_policy(), FieldPath(path, "retry_policy")));
    // A route without its own retry policy uses its virtual host's.
    for (router::Route& r : out.routes) {
      if (auto* action = std::get_if<router::RouteAction>(&r.action)) {
        if (!action->retry_policy) action->retry_policy = out.retry_policy;
      }
    }
  }
  out.include_request_attempt_count = v.include_request_attempt_count();
  out.include_attempt_count_in_response = v.include_attempt_count_in_response();
  return out;
}

}  // namespace

namespace internal {

absl::StatusOr<router::RouteConfiguration> TranslateRouteConfigurationUnchecked(
    const route::RouteConfiguration& proto, std::string_view path) {
  router::RouteConfiguration out;
  out.name = proto.name();
  // Envoy refuses a domain that two virtual hosts (or one twice) claim.
  absl::flat_hash_map<std::string, std::string> domain_owner;
  for (int i = 0; i < proto.virtual_hosts_size(); ++i) {
    const std::string vh_path = IndexPath(path, "virtual_hosts", i);
    router::VirtualHost vh;
    ASSIGN_OR_RETURN(vh, TranslateVirtualHost(proto.virtual_hosts(i), vh_path));
    for (size_t d = 0; d < vh.domains.size(); ++d) {
      const std::string d_path = IndexPath(vh_path, "domains", static_cast<int>(d));
      auto [it, inserted] = domain_owner.emplace(vh.domains[d], d_path);
      if (!inserted) {
        return ConfigError(d_path, "duplicate domain '", vh.domains[d], "' (also at ", it->second,
                           ")");
      }
    }
    out.virtual_hosts.push_back(std::move(vh));
  }
  for (const std::string& h : proto.internal_only_headers()) {
    out.internal_only_headers.push_back(absl::AsciiStrToLower(h));
  }
  ASSIGN_OR_RETURN(out.headers, TranslateHeaderMutations(proto, path));
  return out;
}

}  // namespace internal

absl::StatusOr<router::RouteConfiguration> TranslateRouteConfiguration(
    const route::RouteConfiguration& proto, std::string_view path) {
  LinkExtensionTypes();
  if (absl::Status s = CheckSupportedFields(proto, path); !s.ok()) return s;
  return internal::TranslateRouteConfigurationUnchecked(proto, path);
}

}  // namespace weft::config
