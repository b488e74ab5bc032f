#include "proxy/upstream/random_lb.h"

#include <algorithm>

namespace weft::upstream {

RandomLoadBalancer::RandomLoadBalancer(std::shared_ptr<const HostSet> hosts, Random& random)
    : hosts_(std::move(hosts)), level_(hosts_->primary()), random_(random) {
  if (level_.equal_weights) return;
  uint64_t sum = 0;
  cumulative_weights_.reserve(level_.hosts.size());
  for (uint32_t index : level_.hosts) {
    sum += hosts_->hosts()[index]->weight;
    cumulative_weights_.push_back(sum);
  }
}

int RandomLoadBalancer::ChooseHost(const LbContext&) {
  if (level_.hosts.empty()) return -1;
  if (cumulative_weights_.empty()) {
    return static_cast<int>(level_.hosts[random_.Uniform(level_.hosts.size())]);
  }
  uint64_t point = random_.Uniform(cumulative_weights_.back());
  auto it = std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), point);
  return static_cast<int>(level_.hosts[it - cumulative_weights_.begin()]);
}

}  // namespace weft::upstream
