#include "proxy/filters/cors.h"

#include "proxy/router/route_matcher.h"
#include "proxy/router/router.h"

namespace weft::filters {
namespace {

// Response code details of the preflight answer, as Envoy's CorsFilter reports it.
constexpr std::string_view kCorsResponseDetails = "cors_response";

// The first policy in `chain` for which `is_set(policy)`, or nullptr.
template <typename IsSet>
const router::CorsPolicy* FirstSetting(const CorsPolicyChain& chain, IsSet is_set) {
  for (const router::CorsPolicy* policy : chain.levels) {
    if (policy != nullptr && is_set(*policy)) return policy;
  }
  return nullptr;
}

std::string_view FirstString(const CorsPolicyChain& chain, std::string router::CorsPolicy::*field) {
  const auto* p = FirstSetting(chain, [field](const auto& c) { return !(c.*field).empty(); });
  return p ? std::string_view(p->*field) : std::string_view();
}

bool FirstBool(const CorsPolicyChain& chain, std::optional<bool> router::CorsPolicy::*field,
               bool fallback) {
  const auto* p = FirstSetting(chain, [field](const auto& c) { return (c.*field).has_value(); });
  return p ? *(p->*field) : fallback;
}

const router::CorsPolicy* AsCorsPolicy(const router::PerFilterConfigs& configs,
                                       std::string_view filter_name) {
  auto it = configs.find(filter_name);
  if (it == configs.end()) return nullptr;
  return dynamic_cast<const router::CorsPolicy*>(it->second.get());
}

class CorsFilter : public StreamFilter {
 public:
  struct Counters {
    std::string origin_valid, origin_invalid;
  };

  CorsFilter(FilterCallbacks& callbacks, const Counters& counters, CorsPolicyChain policies,
             std::string_view origin)
      : callbacks_(callbacks), counters_(counters), policies_(policies), origin_(origin) {}

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    // Enabled and shadow are sampled once per request (Envoy asks its runtime on each call).
    const router::CorsPolicy& specific = *policies_.levels[0];
    const uint64_t sample = callbacks_.random().Next();
    const bool enabled = !specific.filter_enabled || specific.filter_enabled->Sample(sample);
    const bool shadow = specific.shadow_enabled && specific.shadow_enabled->Sample(sample);
    if (!enabled && !shadow) return FilterStatus::kContinue;

    const bool allowed = IsOriginAllowed(policies_, origin_);
    callbacks_.stats().counter(allowed ? counters_.origin_valid : counters_.origin_invalid).Inc();
    if (!enabled) return FilterStatus::kContinue;  // shadow mode: counted, not enforced

    add_response_headers_ = allowed;
    if (!IsPreflight(headers)) return FilterStatus::kContinue;
    if (!allowed && policies_.forward_not_matching_preflights()) return FilterStatus::kContinue;
    preflight_request_ = &headers;
    callbacks_.SendLocalReply(200, "", kCorsResponseDetails, 0);
    return FilterStatus::kLocalReplySent;
  }

  void EncodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    if (preflight_request_ != nullptr) {
      AddPreflightResponseHeaders(policies_, *preflight_request_,
                                  add_response_headers_ ? std::move(origin_) : std::string(),
                                  headers);
    } else if (add_response_headers_) {
      AddCorsResponseHeaders(policies_, std::move(origin_), headers);
    }
    preflight_request_ = nullptr;
    add_response_headers_ = false;
  }

 private:
  FilterCallbacks& callbacks_;
  const Counters& counters_;
  const CorsPolicyChain policies_;
  // A copy: the request's header map may move its values when filters edit it.
  std::string origin_;
  bool add_response_headers_ = false;  // the origin is allowed and the filter enforces
  const http::HeaderMap* preflight_request_ = nullptr;  // set while answering a preflight
};

class CorsFilterFactory : public FilterFactory {
 public:
  CorsFilterFactory(std::string name, std::string_view http_stat_prefix)
      : name_(std::move(name)),
        counters_{std::string(http_stat_prefix) + "cors.origin_valid",
                  std::string(http_stat_prefix) + "cors.origin_invalid"} {}

  const std::string& name() const override { return name_; }

  // Most requests are not cross-origin: without an Origin, or without a policy on the route,
  // no filter is made (no allocation, nothing runs on the response).
  std::unique_ptr<StreamFilter> Create(FilterCallbacks& callbacks) const override {
    const http::HeaderMap* request = callbacks.info().request_headers;
    if (request == nullptr) return nullptr;
    const std::string* origin = request->Get("origin");
    if (origin == nullptr || origin->empty()) return nullptr;
    const router::RouteEntry* route = callbacks.route();
    if (route == nullptr) return nullptr;
    const CorsPolicyChain policies = FindCorsPolicies(*route, name_);
    if (policies.empty()) return nullptr;
    return std::make_unique<CorsFilter>(callbacks, counters_, policies, *origin);
  }

 private:
  std::string name_;
  CorsFilter::Counters counters_;
};

}  // namespace

const std::vector<router::StringMatcher>& CorsPolicyChain::allow_origins() const {
  static const std::vector<router::StringMatcher> kNone;
  const auto* p =
      FirstSetting(*this, [](const auto& c) { return !c.allow_origin_string_match.empty(); });
  return p ? p->allow_origin_string_match : kNone;
}

std::string_view CorsPolicyChain::allow_methods() const {
  return FirstString(*this, &router::CorsPolicy::allow_methods);
}
std::string_view CorsPolicyChain::allow_headers() const {
  return FirstString(*this, &router::CorsPolicy::allow_headers);
}
std::string_view CorsPolicyChain::expose_headers() const {
  return FirstString(*this, &router::CorsPolicy::expose_headers);
}
std::string_view CorsPolicyChain::max_age() const {
  return FirstString(*this, &router::CorsPolicy::max_age);
}
bool CorsPolicyChain::allow_credentials() const {
  return FirstBool(*this, &router::CorsPolicy::allow_credentials, false);
}
bool CorsPolicyChain::allow_private_network_access() const {
  return FirstBool(*this, &router::CorsPolicy::allow_private_network_access, false);
}
bool CorsPolicyChain::forward_not_matching_preflights() const {
  // cors.v3.CorsPolicy.forward_not_matching_preflights: "Default is true."
  return FirstBool(*this, &router::CorsPolicy::forward_not_matching_preflights, true);
}

CorsPolicyChain FindCorsPolicies(const router::RouteEntry& route, std::string_view filter_name) {
  CorsPolicyChain chain;
  const router::RouteAction* action = route.action();
  if (action == nullptr)
    return chain;  // Envoy bypasses the filter for redirects and direct replies
  const router::VirtualHost& host = *route.virtual_host->config;
  const router::CorsPolicy* on_route = AsCorsPolicy(route.route->per_filter_config, filter_name);
  const router::CorsPolicy* on_host = AsCorsPolicy(host.per_filter_config, filter_name);
  // The deprecated fields count only when no typed_per_filter_config applies (Envoy's
  // CorsFilter::initializeCorsPolicies).
  if (on_route == nullptr && on_host == nullptr) {
    on_route = action->cors.get();
    on_host = host.cors.get();
  }
  int n = 0;
  if (on_route != nullptr) chain.levels[n++] = on_route;
  if (on_host != nullptr) chain.levels[n++] = on_host;
  return chain;
}

bool IsOriginAllowed(const CorsPolicyChain& policies, std::string_view origin) {
  for (const router::StringMatcher& matcher : policies.allow_origins()) {
    if (router::MatchString(matcher, "*") || router::MatchString(matcher, origin)) return true;
  }
  return false;
}

bool IsPreflight(const http::HeaderMap& request) {
  return request.Method() == "OPTIONS" && !request.GetOr("access-control-request-method").empty();
}

void AddPreflightResponseHeaders(const CorsPolicyChain& policies, const http::HeaderMap& request,
                                 std::string origin_if_allowed, http::HeaderMap& response) {
  if (!origin_if_allowed.empty()) {
    response.Set("access-control-allow-origin", std::move(origin_if_allowed));
  }
  if (policies.allow_credentials()) response.Set("access-control-allow-credentials", "true");
  const std::string_view methods = policies.allow_methods();
  if (!methods.empty()) {
    response.Set(
        "access-control-allow-methods",
        std::string(methods == "*" ? request.GetOr("access-control-request-method") : methods));
  }
  const std::string_view headers = policies.allow_headers();
  const std::string_view echoed =
      headers == "*" ? request.GetOr("access-control-request-headers") : headers;
  if (!echoed.empty()) response.Set("access-control-allow-headers", std::string(echoed));
  if (!policies.max_age().empty()) {
    response.Set("access-control-max-age", std::string(policies.max_age()));
  }
  // Private Network Access (https://developer.chrome.com/blog/private-network-access-preflight).
  if (policies.allow_private_network_access() &&
      request.GetOr("access-control-request-private-network") == "true") {
    response.Set("access-control-allow-private-network", "true");
  }
}

void AddCorsResponseHeaders(const CorsPolicyChain& policies, std::string origin,
                            http::HeaderMap& response) {
  response.Set("access-control-allow-origin", std::move(origin));
  if (policies.allow_credentials()) response.Set("access-control-allow-credentials", "true");
  if (!policies.expose_headers().empty()) {
    response.Set("access-control-expose-headers", std::string(policies.expose_headers()));
  }
}

std::unique_ptr<FilterFactory> CreateCorsFilterFactory(std::string name,
                                                       std::string_view http_stat_prefix) {
  return std::make_unique<CorsFilterFactory>(std::move(name), http_stat_prefix);
}

}  // namespace weft::filters
