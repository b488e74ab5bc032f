#include "proxy/upstream/locality_lb.h"

#include <algorithm>

#include "base/status.h"
#include "proxy/upstream/edf.h"

namespace weft::upstream {

std::shared_ptr<const LocalityHostSets> LocalityHostSets::Build(const HostSet& hosts) {
  auto out = std::make_shared<LocalityHostSets>();
  for (const LocalityHosts& locality : hosts.primary().localities) {
    if (locality.locality_weight == 0 || locality.hosts.empty()) continue;
    Entry entry;
    entry.weight = locality.locality_weight;
    std::vector<HostConstSharedPtr> members;
    members.reserve(locality.hosts.size());
    for (uint32_t index : locality.hosts) {
      members.push_back(hosts.hosts()[index]);
      entry.to_cluster.push_back(index);
    }
    entry.hosts = HostSet::Create(std::move(members));
    out->localities.push_back(std::move(entry));
  }
  return out;
}

LocalityWeightedLoadBalancer::LocalityWeightedLoadBalancer(
    std::shared_ptr<const LocalityHostSets> localities, size_t cluster_host_count)
    : localities_(std::move(localities)), owners_(cluster_host_count) {}

absl::StatusOr<std::unique_ptr<LocalityWeightedLoadBalancer>> LocalityWeightedLoadBalancer::Create(
    std::shared_ptr<const LocalityHostSets> localities, size_t cluster_host_count,
    const ChildFactory& make_child, Random& random) {
  if (localities == nullptr) {
    return absl::FailedPreconditionError(
        "locality-weighted balancing needs the localities from BuildLbSharedState()");
  }
  std::unique_ptr<LocalityWeightedLoadBalancer> lb(
      new LocalityWeightedLoadBalancer(std::move(localities), cluster_host_count));
  const auto& entries = lb->localities_->localities;
  for (size_t l = 0; l < entries.size(); ++l) {
    ASSIGN_OR_RETURN(std::unique_ptr<LoadBalancer> child, make_child(entries[l].hosts));
    lb->children_.push_back(std::move(child));
    for (size_t i = 0; i < entries[l].to_cluster.size(); ++i) {
      const uint32_t host = entries[l].to_cluster[i];
      if (host < lb->owners_.size()) {
        lb->owners_[host] = Owner{static_cast<int>(l), static_cast<int>(i)};
      }
    }
    // A random phase within each locality's first period, so workers do not start in lockstep.
    lb->heap_.push_back(
        Entry{random.UniformDouble() / entries[l].weight, static_cast<uint32_t>(l)});
  }
  std::make_heap(lb->heap_.begin(), lb->heap_.end(), DueLater{});
  return lb;
}

int LocalityWeightedLoadBalancer::ChooseHost(const LbContext& context) {
  if (heap_.empty()) return -1;  // no locality has a weight: no host, as in Envoy
  std::pop_heap(heap_.begin(), heap_.end(), DueLater{});
  Entry& entry = heap_.back();
  const uint32_t locality = entry.host;
  entry.deadline += 1.0 / localities_->localities[locality].weight;
  std::push_heap(heap_.begin(), heap_.end(), DueLater{});
  const int index = children_[locality]->ChooseHost(context);
  if (index < 0) return -1;
  return static_cast<int>(localities_->localities[locality].to_cluster[static_cast<size_t>(index)]);
}

const LocalityWeightedLoadBalancer::Owner* LocalityWeightedLoadBalancer::OwnerOf(int host) const {
  if (host < 0 || static_cast<size_t>(host) >= owners_.size()) return nullptr;
  const Owner& owner = owners_[static_cast<size_t>(host)];
  return owner.locality < 0 ? nullptr : &owner;
}

void LocalityWeightedLoadBalancer::OnRequestStart(int host) {
  if (const Owner* o = OwnerOf(host)) children_[o->locality]->OnRequestStart(o->index);
}

void LocalityWeightedLoadBalancer::OnRequestEnd(int host) {
  if (const Owner* o = OwnerOf(host)) children_[o->locality]->OnRequestEnd(o->index);
}

void LocalityWeightedLoadBalancer::OnResponseLatency(int host, std::chrono::nanoseconds latency) {
  if (const Owner* o = OwnerOf(host)) children_[o->locality]->OnResponseLatency(o->index, latency);
}

}  // namespace weft::upstream
