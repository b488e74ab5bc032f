#include "proxy/upstream/load_balancer.h"

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "proxy/upstream/least_request_lb.h"
#include "proxy/upstream/locality_lb.h"
#include "proxy/upstream/maglev_lb.h"
#include "proxy/upstream/peak_ewma_lb.h"
#include "proxy/upstream/priority_load.h"
#include "proxy/upstream/random_lb.h"
#include "proxy/upstream/ring_hash_lb.h"
#include "proxy/upstream/round_robin_lb.h"

namespace weft::upstream {
namespace {

// Several levels take traffic (priority failover in progress): roll for a level, then let that
// level's balancer pick. Requests with a hash roll with the hash, so a key sticks to a level as
// long as the loads do (Envoy does the same for its hashing balancers).
class PriorityLoadBalancer final : public LoadBalancer {
 public:
  struct Level {
    uint32_t cumulative_load;  // this level's load plus all before it
    std::unique_ptr<LoadBalancer> lb;
  };
  PriorityLoadBalancer(std::vector<Level> levels, std::vector<uint16_t> level_of_host,
                       Random& random)
      : levels_(std::move(levels)), level_of_host_(std::move(level_of_host)), random_(random) {}

  int ChooseHost(const LbContext& context) override {
    const uint64_t roll = context.hash ? *context.hash % 100 : random_.Uniform(100);
    for (const Level& level : levels_) {
      if (roll < level.cumulative_load) return level.lb->ChooseHost(context);
    }
    return levels_.back().lb->ChooseHost(context);
  }
  void OnRequestStart(int host) override {
    if (LoadBalancer* lb = LevelOf(host)) lb->OnRequestStart(host);
  }
  void OnRequestEnd(int host) override {
    if (LoadBalancer* lb = LevelOf(host)) lb->OnRequestEnd(host);
  }
  void OnResponseLatency(int host, std::chrono::nanoseconds latency) override {
    if (LoadBalancer* lb = LevelOf(host)) lb->OnResponseLatency(host, latency);
  }

 private:
  LoadBalancer* LevelOf(int host) {
    if (host < 0 || static_cast<size_t>(host) >= level_of_host_.size()) return nullptr;
    uint16_t level = level_of_host_[host];
    return level < levels_.size() ? levels_[level].lb.get() : nullptr;
  }
  std::vector<Level> levels_;
  std::vector<uint16_t> level_of_host_;  // index into levels_, or 0xFFFF for hosts in none
  Random& random_;
};

// The cluster's lb_policy over `hosts` (a level's view, or one locality of it); `level` carries
// the shared tables RING_HASH and MAGLEV need.
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreatePolicyBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts, const LevelLbState& level,
    Random& random, const MonotonicClock& clock) {
  switch (config.lb_policy) {
    case LbPolicy::kRoundRobin:
      return std::make_unique<RoundRobinLoadBalancer>(std::move(hosts), random);
    case LbPolicy::kLeastRequest:
      return std::make_unique<LeastRequestLoadBalancer>(std::move(hosts),
                                                        config.least_request.choice_count, random);
    case LbPolicy::kRandom:
      return std::make_unique<RandomLoadBalancer>(std::move(hosts), random);
    case LbPolicy::kPeakEwma:
      return std::make_unique<PeakEwmaLoadBalancer>(std::move(hosts), config.peak_ewma, random,
                                                    clock);
    case LbPolicy::kRingHash:
      if (level.ring == nullptr) {
        return absl::FailedPreconditionError("RING_HASH needs the ring from BuildLbSharedState()");
      }
      return std::make_unique<RingHashLoadBalancer>(level.ring, random);
    case LbPolicy::kMaglev:
      if (level.maglev == nullptr) {
        return absl::FailedPreconditionError("MAGLEV needs the table from BuildLbSharedState()");
      }
      return std::make_unique<MaglevLoadBalancer>(level.maglev, random);
    case LbPolicy::kClusterProvided:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("cluster '", config.name,
                   "': lb_policy CLUSTER_PROVIDED has no generic load balancer (ORIGINAL_DST "
                   "picks its host from the connection)"));
}

// One priority level's balancer: the policy over the level's hosts, or, with
// locality_weighted_lb_config, a locality pick first and the policy within the locality.
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLevelBalancer(const ClusterConfig& config,
                                                                  const LevelLbState& level,
                                                                  Random& random,
                                                                  const MonotonicClock& clock) {
  if (!config.locality_weighted_lb) {
    return CreatePolicyBalancer(config, level.view, level, random, clock);
  }
  auto make_child = [&](std::shared_ptr<const HostSet> locality_hosts) {
    return CreatePolicyBalancer(config, std::move(locality_hosts), level, random, clock);
  };
  std::shared_ptr<const LocalityHostSets> localities =
      level.localities ? level.localities : LocalityHostSets::Build(*level.view);
  ASSIGN_OR_RETURN(auto lb, LocalityWeightedLoadBalancer::Create(
                                localities, level.view->hosts().size(), make_child, random));
  return std::unique_ptr<LoadBalancer>(std::move(lb));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const LbSharedState>> BuildLbSharedState(const ClusterConfig& config,
                                                                        const HostSet& hosts,
                                                                        const HostHealth& health) {
  if (config.locality_weighted_lb &&
      (config.lb_policy == LbPolicy::kRingHash || config.lb_policy == LbPolicy::kMaglev)) {
    return absl::UnimplementedError("locality-weighted balancing with RING_HASH or MAGLEV");
  }
  const auto& priorities = hosts.priorities();
  std::vector<LevelHealth> level_health(priorities.size());
  std::vector<std::vector<uint32_t>> healthy(priorities.size());
  for (size_t p = 0; p < priorities.size(); ++p) {
    for (uint32_t index : priorities[p].hosts) {
      if (IsHealthy(health, index)) healthy[p].push_back(index);
    }
    level_health[p] = LevelHealth{static_cast<uint32_t>(healthy[p].size()),
                                  static_cast<uint32_t>(priorities[p].hosts.size())};
  }
  PriorityLoad load = ComputePriorityLoad(level_health, config.overprovisioning_factor,
                                          config.healthy_panic_threshold);

  auto state = std::make_shared<LbSharedState>();
  for (const auto& h : healthy) state->healthy_hosts += static_cast<uint32_t>(h.size());
  state->panic_by_priority.assign(priorities.size(), false);
  for (size_t p = 0; p < priorities.size(); ++p) {
    if (load.load[p] == 0) continue;
    LevelLbState level;
    level.priority = static_cast<uint32_t>(p);
    level.load = load.load[p];
    level.panic = load.panic[p];
    const bool whole_level = level.panic || healthy[p].size() == priorities[p].hosts.size();
    level.view = HostSet::CreateView(hosts, whole_level ? priorities[p].hosts : healthy[p]);
    if (level.panic) {
      state->panic_by_priority[p] = true;
      state->any_panic = true;
    }
    if (config.locality_weighted_lb) level.localities = LocalityHostSets::Build(*level.view);
    if (config.lb_policy == LbPolicy::kRingHash) {
      ASSIGN_OR_RETURN(level.ring, RingHashTable::Build(*level.view, config.ring_hash));
    } else if (config.lb_policy == LbPolicy::kMaglev) {
      ASSIGN_OR_RETURN(level.maglev, MaglevTable::Build(*level.view, config.maglev.table_size));
    }
    state->levels.push_back(std::move(level));
  }
  if (state->levels.empty() && config.lb_policy == LbPolicy::kMaglev) {
    // Still validate the table size for an empty cluster.
    ASSIGN_OR_RETURN(auto table, MaglevTable::Build(hosts, config.maglev.table_size));
    (void)table;
  }
  return std::shared_ptr<const LbSharedState>(std::move(state));
}

absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    std::shared_ptr<const LbSharedState> shared, Random& random, const MonotonicClock& clock) {
  if (hosts == nullptr) return absl::InvalidArgumentError("CreateLoadBalancer: no host set");
  if (shared == nullptr) {
    // All healthy, priority 0 only.
    LevelLbState level;
    level.view = std::move(hosts);
    return CreateLevelBalancer(config, level, random, clock);
  }
  if (shared->levels.empty()) {
    // No host at all: any algorithm over the empty set answers -1.
    LevelLbState level;
    level.view = HostSet::Create({});
    if (config.lb_policy == LbPolicy::kRingHash || config.lb_policy == LbPolicy::kMaglev) {
      return std::make_unique<RandomLoadBalancer>(level.view, random);
    }
    return CreateLevelBalancer(config, level, random, clock);
  }
  if (shared->levels.size() == 1)
    return CreateLevelBalancer(config, shared->levels[0], random, clock);

  std::vector<PriorityLoadBalancer::Level> levels;
  std::vector<uint16_t> level_of_host(hosts->hosts().size(), 0xFFFF);
  uint32_t cumulative = 0;
  for (const LevelLbState& level : shared->levels) {
    ASSIGN_OR_RETURN(auto lb, CreateLevelBalancer(config, level, random, clock));
    cumulative += level.load;
    for (uint32_t index : level.view->primary().hosts) {
      level_of_host[index] = static_cast<uint16_t>(levels.size());
    }
    levels.push_back(PriorityLoadBalancer::Level{cumulative, std::move(lb)});
  }
  return std::make_unique<PriorityLoadBalancer>(std::move(levels), std::move(level_of_host),
                                                random);
}

}  // namespace weft::upstream
