// RANDOM: a uniformly random host, or weight-proportional when weights differ (a binary search
// over cumulative weights built once per balancer). No state between picks.
//
// Thread-safety: none; one instance per worker.
#pragma once

#include <memory>
#include <vector>

#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class RandomLoadBalancer final : public LoadBalancer {
 public:
  RandomLoadBalancer(std::shared_ptr<const HostSet> hosts, Random& random);
  int ChooseHost(const LbContext& context) override;

 private:
  std::shared_ptr<const HostSet> hosts_;
  const PriorityHosts& level_;
  Random& random_;
  std::vector<uint64_t> cumulative_weights_;  // unequal weights only
};

}  // namespace weft::upstream
