#include "proxy/upstream/least_request_lb.h"

#include <algorithm>

#include "proxy/upstream/edf.h"

namespace weft::upstream {

LeastRequestLoadBalancer::LeastRequestLoadBalancer(std::shared_ptr<const HostSet> hosts,
                                                   uint32_t choice_count, Random& random)
    : hosts_(std::move(hosts)),
      level_(hosts_->primary()),
      choice_count_(std::max<uint32_t>(choice_count, 1)),
      random_(random),
      active_(hosts_->hosts().size(), 0) {
  if (level_.equal_weights || level_.hosts.empty()) return;
  heap_.reserve(level_.hosts.size());
  for (uint32_t index : level_.hosts) {
    // A random phase within each host's first period, so workers do not start in lockstep.
    heap_.push_back(Entry{random_.UniformDouble() / EffectiveWeight(index), index});
  }
  std::make_heap(heap_.begin(), heap_.end(), DueLater{});
}

double LeastRequestLoadBalancer::EffectiveWeight(uint32_t host) const {
  return static_cast<double>(hosts_->hosts()[host]->weight) / (active_[host] + 1.0);
}

int LeastRequestLoadBalancer::ChooseHost(const LbContext&) {
  const size_t n = level_.hosts.size();
  if (n == 0) return -1;
  if (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), DueLater{});
    Entry& entry = heap_.back();
    now_ = entry.deadline;
    uint32_t chosen = entry.host;
    entry.deadline = now_ + 1.0 / EffectiveWeight(chosen);
    std::push_heap(heap_.begin(), heap_.end(), DueLater{});
    return static_cast<int>(chosen);
  }
  uint32_t best = level_.hosts[random_.Uniform(n)];
  for (uint32_t i = 1; i < choice_count_; ++i) {
    uint32_t candidate = level_.hosts[random_.Uniform(n)];
    if (active_[candidate] < active_[best]) best = candidate;
  }
  return static_cast<int>(best);
}

void LeastRequestLoadBalancer::OnRequestStart(int host) {
  if (host >= 0 && static_cast<size_t>(host) < active_.size()) ++active_[host];
}

void LeastRequestLoadBalancer::OnRequestEnd(int host) {
  if (host >= 0 && static_cast<size_t>(host) < active_.size() && active_[host] > 0) {
    --active_[host];
  }
}

}  // namespace weft::upstream
