#include "proxy/upstream/peak_ewma_lb.h"

#include <algorithm>
#include <cmath>

namespace weft::upstream {

PeakEwmaLoadBalancer::PeakEwmaLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                           const PeakEwmaConfig& config, Random& random,
                                           const MonotonicClock& clock)
    : hosts_(std::move(hosts)),
      level_(hosts_->primary()),
      decay_ns_(std::max(1.0, static_cast<double>(config.decay_time.count()))),
      random_(random),
      clock_(clock) {
  const MonotonicClock::TimePoint now = clock_.Now();
  state_.assign(hosts_->hosts().size(),
                HostState{static_cast<double>(config.default_rtt.count()), now, 0});
}

void PeakEwmaLoadBalancer::Update(HostState& state, MonotonicClock::TimePoint now,
                                  double latency_ns) const {
  if (latency_ns > state.estimate_ns) {
    state.estimate_ns = latency_ns;  // the peak: react to a slow response at once
  } else {
    const double elapsed_ns = static_cast<double>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - state.updated).count());
    // The older the estimate, the more the new observation counts.
    const double keep = std::exp(-std::max(0.0, elapsed_ns) / decay_ns_);
    state.estimate_ns = state.estimate_ns * keep + latency_ns * (1.0 - keep);
  }
  state.updated = std::max(state.updated, now);
}

double PeakEwmaLoadBalancer::EstimateNanos(int host) {
  HostState& state = state_[static_cast<size_t>(host)];
  Update(state, clock_.Now(), 0);
  return state.estimate_ns;
}

double PeakEwmaLoadBalancer::Cost(int host) {
  return EstimateNanos(host) * (state_[static_cast<size_t>(host)].active + 1.0);
}

int PeakEwmaLoadBalancer::ChooseHost(const LbContext&) {
  const size_t n = level_.hosts.size();
  if (n == 0) return -1;
  if (n == 1) return static_cast<int>(level_.hosts[0]);
  // Two distinct hosts: the second draw skips the first's slot.
  const size_t a = random_.Uniform(n);
  size_t b = random_.Uniform(n - 1);
  if (b >= a) ++b;
  const int first = static_cast<int>(level_.hosts[a]);
  const int second = static_cast<int>(level_.hosts[b]);
  return Cost(second) < Cost(first) ? second : first;
}

void PeakEwmaLoadBalancer::OnRequestStart(int host) {
  if (Valid(host)) ++state_[static_cast<size_t>(host)].active;
}

void PeakEwmaLoadBalancer::OnRequestEnd(int host) {
  if (Valid(host) && state_[static_cast<size_t>(host)].active > 0) {
    --state_[static_cast<size_t>(host)].active;
  }
}

void PeakEwmaLoadBalancer::OnResponseLatency(int host, std::chrono::nanoseconds latency) {
  if (!Valid(host)) return;
  Update(state_[static_cast<size_t>(host)], clock_.Now(),
         static_cast<double>(std::max<int64_t>(latency.count(), 0)));
}

}  // namespace weft::upstream
