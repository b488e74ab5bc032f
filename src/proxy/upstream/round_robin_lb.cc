#include "proxy/upstream/round_robin_lb.h"

#include <algorithm>

#include "proxy/upstream/edf.h"

namespace weft::upstream {

RoundRobinLoadBalancer::RoundRobinLoadBalancer(std::shared_ptr<const HostSet> hosts, Random& random)
    : hosts_(std::move(hosts)), level_(hosts_->primary()) {
  if (level_.hosts.empty()) return;
  if (level_.equal_weights) {
    next_ = random.Uniform(level_.hosts.size());
    return;
  }
  heap_.reserve(level_.hosts.size());
  ResetCycle();
  // A random number of picks within the first cycle stands in for a random start offset; it
  // keeps the exact per-cycle proportions. Bounded so a huge total weight costs little here.
  uint64_t skip = random.Uniform(std::min<uint64_t>(level_.total_weight, 4096));
  for (uint64_t i = 0; i < skip; ++i) PickWeighted();
}

void RoundRobinLoadBalancer::ResetCycle() {
  heap_.clear();
  for (uint32_t index : level_.hosts) {
    double weight = hosts_->hosts()[index]->weight;
    heap_.push_back(Entry{1.0 / weight, index, 0});
  }
  std::make_heap(heap_.begin(), heap_.end(), DueLater{});
  picks_in_cycle_ = 0;
}

int RoundRobinLoadBalancer::PickWeighted() {
  std::pop_heap(heap_.begin(), heap_.end(), DueLater{});
  Entry& entry = heap_.back();
  int chosen = static_cast<int>(entry.host);
  ++entry.picks;
  // Computed from integers rather than accumulated, so equal fractions compare equal.
  entry.deadline = static_cast<double>(entry.picks + 1) / hosts_->hosts()[entry.host]->weight;
  std::push_heap(heap_.begin(), heap_.end(), DueLater{});
  // After sum(weights) picks every host has had exactly its weight; start the next cycle fresh
  // so the counters never grow and the doubles keep their precision.
  if (++picks_in_cycle_ == level_.total_weight) ResetCycle();
  return chosen;
}

int RoundRobinLoadBalancer::ChooseHost(const LbContext&) {
  if (level_.hosts.empty()) return -1;
  if (!level_.equal_weights) return PickWeighted();
  int chosen = static_cast<int>(level_.hosts[next_]);
  if (++next_ == level_.hosts.size()) next_ = 0;
  return chosen;
}

}  // namespace weft::upstream
