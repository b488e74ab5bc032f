// LEAST_REQUEST, following Envoy's documented behaviour
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-least-request):
//   - equal weights: power of N choices. Pick `choice_count` hosts at random (default 2) and take
//     the one with the fewest active requests: O(1), and it almost never picks a busy host.
//   - unequal weights: an earliest-deadline-first schedule whose weights are recomputed at the
//     moment a host is scheduled, as weight / (active_requests + 1)^bias with bias 1, so a busy
//     host's next turn comes later.
// Active request counts are this worker's own (OnRequestStart/OnRequestEnd), not global: each
// worker balances its own share of the load, which is what Envoy does too and needs no atomics.
//
// Thread-safety: none; one instance per worker.
#pragma once

#include <memory>
#include <vector>

#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class LeastRequestLoadBalancer final : public LoadBalancer {
 public:
  LeastRequestLoadBalancer(std::shared_ptr<const HostSet> hosts, uint32_t choice_count,
                           Random& random);
  int ChooseHost(const LbContext& context) override;
  void OnRequestStart(int host) override;
  void OnRequestEnd(int host) override;

  uint32_t active_requests(int host) const { return active_[static_cast<size_t>(host)]; }

 private:
  struct Entry {
    double deadline;
    uint32_t host;
  };
  double EffectiveWeight(uint32_t host) const;

  std::shared_ptr<const HostSet> hosts_;
  const PriorityHosts& level_;
  const uint32_t choice_count_;
  Random& random_;
  std::vector<uint32_t> active_;  // by index into HostSet::hosts()
  std::vector<Entry> heap_;       // unequal weights only
  double now_ = 0;                // the schedule's virtual time: the last pick's deadline
};

}  // namespace weft::upstream
