#include "proxy/filters/local_ratelimit.h"

#include "http/grpc.h"

namespace weft::filters {
namespace {

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
    s.counter(config->stat_names.enabled).Inc();
    if (config->token_bucket->TryConsume(callbacks_.dispatcher().Now())) {
      s.counter(config->stat_names.ok).Inc();
      return FilterStatus::kContinue;
    }
    s.counter(config->stat_names.rate_limited).Inc();
    if (!config->filter_enforced.Sample(random.Next())) {
      config->headers.ApplyToRequest(headers, callbacks_.info());
      return FilterStatus::kContinue;
    }
    s.counter(config->stat_names.enforced).Inc();
    response_headers_ = &config->headers;
    callbacks_.SendLocalReply(
        config->status, "local_rate_limited", "local_rate_limited", access_log::kRateLimited,
        config->rate_limited_as_resource_exhausted ? http::kGrpcResourceExhausted
                                                   : http::kGrpcUnavailable);
    return FilterStatus::kLocalReplySent;
  }

  void EncodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    if (response_headers_) response_headers_->ApplyToResponse(headers, callbacks_.info());
  }

 private:
  FilterCallbacks& callbacks_;
  const LocalRateLimitConfig& listener_config_;
  const std::string& name_;
  const router::HeaderMutator* response_headers_ = nullptr;  // set once the request is limited
};

}  // namespace

std::unique_ptr<FilterFactory> CreateLocalRateLimitFilterFactory(
    std::string name, std::shared_ptr<const LocalRateLimitConfig> config) {
  return std::make_unique<TypedFilterFactory<LocalRateLimitFilter, LocalRateLimitConfig>>(
      std::move(name), std::move(config));
}

}  // namespace weft::filters
