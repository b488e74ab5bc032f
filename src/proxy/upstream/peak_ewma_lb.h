// PEAK_EWMA: latency-aware balancing with power of two choices, the balancer Linkerd uses
// (Finagle's "peak EWMA", as implemented in Rust's tower::load::PeakEwma that linkerd2-proxy
// builds on; https://linkerd.io/2016/03/16/beyond-round-robin-load-balancing-for-latency/).
//
// Per host, this worker keeps an estimate of response latency (time from sending the request to
// receiving the response headers, reported through LoadBalancer::OnResponseLatency):
//   - "peak": an observation slower than the estimate replaces it at once, so a host that turns
//     slow is avoided from its first slow response;
//   - otherwise the observation is blended in as an exponentially weighted moving average whose
//     weight depends on the time since the last update, exp(-elapsed / decay_time);
//   - when a host is considered for a pick, its estimate first decays towards zero for the time
//     elapsed, so a host that was slow long ago (and so got no traffic) is eventually retried.
// A host's cost is estimate * (active requests + 1); each pick draws two distinct hosts at random
// and takes the cheaper. A host without observations starts at `default_rtt`.
// Defaults are linkerd2-proxy's: EWMA_DECAY = 10 s and EWMA_DEFAULT_RTT = 30 ms
// (linkerd/app/outbound/src/lib.rs).
//
// Like Linkerd's, the balancer ignores host load_balancing_weight. State is per worker (each
// worker balances its own requests with its own measurements, no atomics) and starts afresh when
// a new HostSet is published.
//
// Thread-safety: none; one instance per worker.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "base/monotonic_clock.h"
#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class PeakEwmaLoadBalancer final : public LoadBalancer {
 public:
  PeakEwmaLoadBalancer(std::shared_ptr<const HostSet> hosts, const PeakEwmaConfig& config,
                       Random& random, const MonotonicClock& clock);
  int ChooseHost(const LbContext& context) override;
  void OnRequestStart(int host) override;
  void OnRequestEnd(int host) override;
  void OnResponseLatency(int host, std::chrono::nanoseconds latency) override;

  // For tests and introspection: the host's latency estimate in nanoseconds, decayed to now, and
  // the cost a pick would compare.
  double EstimateNanos(int host);
  double Cost(int host);
  uint32_t active_requests(int host) const { return state_[static_cast<size_t>(host)].active; }

 private:
  struct HostState {
    double estimate_ns;                 // peak EWMA of the latency
    MonotonicClock::TimePoint updated;  // when estimate_ns was last updated or decayed
    uint32_t active = 0;                // this worker's requests in flight
  };
  // Folds `latency_ns` observed at `now` into the estimate; a latency of 0 only decays it.
  void Update(HostState& state, MonotonicClock::TimePoint now, double latency_ns) const;
  bool Valid(int host) const { return host >= 0 && static_cast<size_t>(host) < state_.size(); }

  std::shared_ptr<const HostSet> hosts_;
  const PriorityHosts& level_;
  const double decay_ns_;
  Random& random_;
  const MonotonicClock& clock_;
  std::vector<HostState> state_;  // by index into HostSet::hosts()
};

}  // namespace weft::upstream
