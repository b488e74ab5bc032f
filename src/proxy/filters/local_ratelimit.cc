#include "proxy/filters/local_ratelimit.h"

namespace weft::filters {
namespace {

// gRPC status codes (grpc/doc/statuscodes.md).
constexpr uint32_t kGrpcUnavailable = 14;
constexpr uint32_t kGrpcResourceExhausted = 8;

void AddHeaders(const std::vector<router::HeaderValueOption>& options, http::HeaderMap& headers) {
  for (const auto& o : options) {
    using Action = router::HeaderValueOption::AppendAction;
    switch (o.action) {
      case Action::kAppendIfExistsOrAdd:
        headers.Add(o.name, o.value);
        break;
      case Action::kAddIfAbsent:
        if (!headers.Has(o.name)) headers.Add(o.name, o.value);
        break;
      case Action::kOverwriteIfExistsOrAdd:
        headers.Set(o.name, o.value);
        break;
      case Action::kOverwriteIfExists:
        if (headers.Has(o.name)) headers.Set(o.name, o.value);
        break;
    }
  }
}

class LocalRateLimitFilter : public StreamFilter {
 public:
  LocalRateLimitFilter(FilterCallbacks& callbacks, const LocalRateLimitConfig& listener_config,
                       const std::string& name)
      : callbacks_(callbacks), listener_config_(listener_config), name_(name) {}

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    const LocalRateLimitConfig* config = &listener_config_;
    if (const auto* route = callbacks_.PerRouteConfig(name_)) {
      if (const auto* c = dynamic_cast<const LocalRateLimitConfig*>(route)) config = c;
    }
    Random& random = callbacks_.random();
    if (!config->token_bucket || !config->filter_enabled.Sample(random.Next())) {
      return FilterStatus::kContinue;
    }
    stats::Store& s = callbacks_.stats();
    const std::string p = config->stat_prefix + ".http_local_rate_limit.";
    s.counter(p + "enabled").Inc();
    if (config->token_bucket->TryConsume(callbacks_.dispatcher().Now())) {
      s.counter(p + "ok").Inc();
      return FilterStatus::kContinue;
    }
    s.counter(p + "rate_limited").Inc();
    if (!config->filter_enforced.Sample(random.Next())) {
      AddHeaders(config->request_headers_to_add_when_not_enforced, headers);
      return FilterStatus::kContinue;
    }
    s.counter(p + "enforced").Inc();
    response_headers_ = &config->response_headers_to_add;
    callbacks_.SendLocalReply(
        config->status, "local_rate_limited", "local_rate_limited", access_log::kRateLimited,
        config->rate_limited_as_resource_exhausted ? kGrpcResourceExhausted : kGrpcUnavailable);
    return FilterStatus::kLocalReplySent;
  }

  void EncodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    if (response_headers_) AddHeaders(*response_headers_, headers);
  }

 private:
  FilterCallbacks& callbacks_;
  const LocalRateLimitConfig& listener_config_;
  const std::string& name_;
  const std::vector<router::HeaderValueOption>* response_headers_ = nullptr;
};

}  // namespace

std::unique_ptr<FilterFactory> CreateLocalRateLimitFilterFactory(
    std::string name, std::shared_ptr<const LocalRateLimitConfig> config) {
  return std::make_unique<TypedFilterFactory<LocalRateLimitFilter, LocalRateLimitConfig>>(
      std::move(name), std::move(config));
}

}  // namespace weft::filters
