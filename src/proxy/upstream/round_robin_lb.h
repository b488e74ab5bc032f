// ROUND_ROBIN. Equal weights: plain rotation. Unequal weights: an earliest-deadline-first
// schedule, the technique Envoy documents for weighted round robin
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#weighted-round-robin):
// a host of weight w is due at 1/w, 2/w, 3/w, ... and the earliest due host is picked, so over
// every cycle of sum(weights) picks each host is chosen exactly `weight` times, interleaved
// rather than in bursts, at O(log n) per pick. Each worker starts at a random point of the
// schedule so that workers do not all send their first request to the same host.
//
// Thread-safety: none; one instance per worker.
#pragma once

#include <memory>
#include <vector>

#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class RoundRobinLoadBalancer final : public LoadBalancer {
 public:
  RoundRobinLoadBalancer(std::shared_ptr<const HostSet> hosts, Random& random);
  int ChooseHost(const LbContext& context) override;

 private:
  struct Entry {
    double deadline;  // picks / weight: exact for equal fractions, so ties are true ties
    uint32_t host;    // index into HostSet::hosts()
    uint32_t picks;   // picks of this host in the current cycle
  };
  int PickWeighted();
  void ResetCycle();

  std::shared_ptr<const HostSet> hosts_;
  const PriorityHosts& level_;
  size_t next_ = 0;          // equal weights: position in level_.hosts
  std::vector<Entry> heap_;  // unequal weights: min-heap on (deadline, host)
  uint64_t picks_in_cycle_ = 0;
};

}  // namespace weft::upstream
