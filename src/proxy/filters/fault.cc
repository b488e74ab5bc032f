#include "proxy/filters/fault.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "proxy/router/route_matcher.h"

namespace weft::filters {
namespace {

// The request headers Envoy's fault filter reads when header_delay / header_abort is configured.
constexpr std::string_view kDelayHeader = "x-envoy-fault-delay-request";
constexpr std::string_view kDelayPercentHeader = "x-envoy-fault-delay-request-percentage";
constexpr std::string_view kAbortHeader = "x-envoy-fault-abort-request";
constexpr std::string_view kAbortGrpcHeader = "x-envoy-fault-abort-grpc-request";
constexpr std::string_view kAbortPercentHeader = "x-envoy-fault-abort-request-percentage";

std::optional<uint64_t> HeaderNumber(const http::HeaderMap& headers, std::string_view name) {
  const std::string* value = headers.Get(name);
  uint64_t n = 0;
  if (value == nullptr || !absl::SimpleAtoi(absl::string_view(*value), &n)) return std::nullopt;
  return n;
}

// The configured percentage, lowered by the request's percentage header if it has one
// (Envoy: the header can only narrow what the configuration allows).
router::FractionalPercent EffectivePercent(const router::FractionalPercent& configured,
                                           const http::HeaderMap& headers,
                                           std::string_view percent_header) {
  router::FractionalPercent out = configured;
  if (auto n = HeaderNumber(headers, percent_header)) {
    out.numerator = static_cast<uint32_t>(std::min<uint64_t>(*n, configured.numerator));
  }
  return out;
}

struct FaultStats {
  stats::Counter& delays_injected;
  stats::Counter& aborts_injected;
  stats::Counter& faults_overflow;
  stats::Gauge& active_faults;
};

class FaultFilter : public StreamFilter {
 public:
  FaultFilter(FilterCallbacks& callbacks, const FaultConfig& listener_config,
              const std::string& name)
      : callbacks_(callbacks), listener_config_(listener_config), name_(name) {}
  ~FaultFilter() override { OnDestroy(); }

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    config_ = &listener_config_;
    if (const auto* route = callbacks_.PerRouteConfig(name_)) {
      if (const auto* c = dynamic_cast<const FaultConfig*>(route)) config_ = c;
    }
    if (!Applies(headers)) return FilterStatus::kContinue;
    headers_ = &headers;

    std::optional<router::Milliseconds> delay = DelayFor(headers);
    abort_ = AbortFor(headers);
    if (!delay && !abort_) return FilterStatus::kContinue;
    if (config_->max_active_faults &&
        config_->active_faults->load(std::memory_order_relaxed) >= *config_->max_active_faults) {
      Stats().faults_overflow.Inc();
      return FilterStatus::kContinue;
    }
    config_->active_faults->fetch_add(1, std::memory_order_relaxed);
    Stats().active_faults.Inc();
    active_ = true;
    if (delay) {
      Stats().delays_injected.Inc();
      callbacks_.info().response_flags |= access_log::kDelayInjected;
      delay_timer_ = callbacks_.dispatcher().CreateTimer([this] { OnDelayDone(); });
      delay_timer_->Enable(*delay);
      return FilterStatus::kStopIteration;
    }
    return MaybeAbort() ? FilterStatus::kLocalReplySent : FilterStatus::kContinue;
  }

  void OnDestroy() override {
    if (delay_timer_) delay_timer_->Disable();
    if (active_) {
      active_ = false;
      config_->active_faults->fetch_sub(1, std::memory_order_relaxed);
      Stats().active_faults.Dec();
    }
  }

 private:
  struct AbortDecision {
    uint32_t http_status = 0;
    std::optional<uint32_t> grpc_status;
  };

  bool Applies(const http::HeaderMap& headers) const {
    for (const auto& m : config_->headers) {
      if (!router::MatchHeader(m, headers)) return false;
    }
    if (!config_->upstream_cluster.empty() &&
        callbacks_.info().upstream_cluster != config_->upstream_cluster) {
      return false;
    }
    if (!config_->downstream_nodes.empty()) {
      const std::string* node = headers.Get("x-envoy-downstream-service-node");
      if (node == nullptr ||
          std::find(config_->downstream_nodes.begin(), config_->downstream_nodes.end(), *node) ==
              config_->downstream_nodes.end()) {
        return false;
      }
    }
    return true;
  }

  std::optional<router::Milliseconds> DelayFor(const http::HeaderMap& headers) {
    if (!config_->delay) return std::nullopt;
    const FaultConfig::Delay& d = *config_->delay;
    std::optional<router::Milliseconds> duration = d.fixed_delay;
    router::FractionalPercent percent = d.percentage;
    if (!duration) {  // header_delay
      auto ms = HeaderNumber(headers, kDelayHeader);
      if (!ms) return std::nullopt;
      duration = router::Milliseconds(*ms);
      percent = EffectivePercent(d.percentage, headers, kDelayPercentHeader);
    }
    if (!percent.Sample(callbacks_.random().Next())) return std::nullopt;
    return duration;
  }

  std::optional<AbortDecision> AbortFor(const http::HeaderMap& headers) {
    if (!config_->abort) return std::nullopt;
    const FaultConfig::Abort& a = *config_->abort;
    AbortDecision out;
    router::FractionalPercent percent = a.percentage;
    if (a.header_abort) {
      auto grpc = HeaderNumber(headers, kAbortGrpcHeader);
      auto http = HeaderNumber(headers, kAbortHeader);
      if (grpc) {
        out.grpc_status = static_cast<uint32_t>(*grpc);
        out.http_status = 200;
      } else if (http && *http >= 200 && *http < 600) {
        out.http_status = static_cast<uint32_t>(*http);
      } else {
        return std::nullopt;
      }
      percent = EffectivePercent(a.percentage, headers, kAbortPercentHeader);
    } else if (a.grpc_status) {
      out.grpc_status = a.grpc_status;
      out.http_status = 200;
    } else {
      out.http_status = a.http_status.value_or(503);
    }
    if (!percent.Sample(callbacks_.random().Next())) return std::nullopt;
    return out;
  }

  // Sends the abort reply if one was decided; true if it did.
  bool MaybeAbort() {
    if (!abort_) return false;
    Stats().aborts_injected.Inc();
    callbacks_.SendLocalReply(abort_->http_status, "fault filter abort", "fault_filter_abort",
                              access_log::kFaultInjected, abort_->grpc_status);
    return true;
  }

  void OnDelayDone() {
    if (MaybeAbort()) return;
    callbacks_.ContinueDecoding();
  }

  FaultStats& Stats() {
    if (!stats_) {
      stats::Store& s = callbacks_.stats();
      const std::string p = callbacks_.stat_prefix() + "fault.";
      stats_.emplace(FaultStats{s.counter(p + "delays_injected"), s.counter(p + "aborts_injected"),
                                s.counter(p + "faults_overflow"), s.gauge(p + "active_faults")});
    }
    return *stats_;
  }

  FilterCallbacks& callbacks_;
  const FaultConfig& listener_config_;
  const FaultConfig* config_ = nullptr;
  const std::string& name_;
  http::HeaderMap* headers_ = nullptr;
  std::optional<AbortDecision> abort_;
  std::unique_ptr<event::Timer> delay_timer_;
  std::optional<FaultStats> stats_;
  bool active_ = false;
};

}  // namespace

std::unique_ptr<FilterFactory> CreateFaultFilterFactory(std::string name,
                                                        std::shared_ptr<const FaultConfig> config) {
  return std::make_unique<TypedFilterFactory<FaultFilter, FaultConfig>>(std::move(name),
                                                                        std::move(config));
}

}  // namespace weft::filters
