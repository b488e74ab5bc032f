#include "proxy/upstream/load_balancer.h"

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "proxy/upstream/least_request_lb.h"
#include "proxy/upstream/locality_lb.h"
#include "proxy/upstream/maglev_lb.h"
#include "proxy/upstream/peak_ewma_lb.h"
#include "proxy/upstream/random_lb.h"
#include "proxy/upstream/ring_hash_lb.h"
#include "proxy/upstream/round_robin_lb.h"

namespace weft::upstream {

absl::StatusOr<std::shared_ptr<const LbSharedState>> BuildLbSharedState(const ClusterConfig& config,
                                                                        const HostSet& hosts) {
  if (config.locality_weighted_lb) {
    if (config.lb_policy == LbPolicy::kRingHash || config.lb_policy == LbPolicy::kMaglev) {
      return absl::UnimplementedError("locality-weighted balancing with RING_HASH or MAGLEV");
    }
    auto state = std::make_shared<LbSharedState>();
    state->localities = LocalityHostSets::Build(hosts);
    return std::shared_ptr<const LbSharedState>(std::move(state));
  }
  switch (config.lb_policy) {
    case LbPolicy::kRingHash: {
      auto state = std::make_shared<LbSharedState>();
      ASSIGN_OR_RETURN(state->ring, RingHashTable::Build(hosts, config.ring_hash));
      return std::shared_ptr<const LbSharedState>(std::move(state));
    }
    case LbPolicy::kMaglev: {
      auto state = std::make_shared<LbSharedState>();
      ASSIGN_OR_RETURN(state->maglev, MaglevTable::Build(hosts, config.maglev.table_size));
      return std::shared_ptr<const LbSharedState>(std::move(state));
    }
    default:
      return std::shared_ptr<const LbSharedState>();
  }
}

namespace {

// The cluster's lb_policy over `hosts`, without locality weighting.
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreatePolicyLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    const std::shared_ptr<const LbSharedState>& shared, Random& random,
    const MonotonicClock& clock) {
  switch (config.lb_policy) {
    case LbPolicy::kRoundRobin:
      return std::make_unique<RoundRobinLoadBalancer>(std::move(hosts), random);
    case LbPolicy::kLeastRequest:
      return std::make_unique<LeastRequestLoadBalancer>(std::move(hosts),
                                                        config.least_request.choice_count, random);
    case LbPolicy::kRandom:
      return std::make_unique<RandomLoadBalancer>(std::move(hosts), random);
    case LbPolicy::kRingHash:
      if (shared == nullptr || shared->ring == nullptr) {
        return absl::FailedPreconditionError("RING_HASH needs the ring from BuildLbSharedState()");
      }
      return std::make_unique<RingHashLoadBalancer>(shared->ring, random);
    case LbPolicy::kMaglev:
      if (shared == nullptr || shared->maglev == nullptr) {
        return absl::FailedPreconditionError("MAGLEV needs the table from BuildLbSharedState()");
      }
      return std::make_unique<MaglevLoadBalancer>(shared->maglev, random);
    case LbPolicy::kPeakEwma:
      return std::make_unique<PeakEwmaLoadBalancer>(std::move(hosts), config.peak_ewma, random,
                                                    clock);
    case LbPolicy::kClusterProvided:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("cluster '", config.name,
                   "': lb_policy CLUSTER_PROVIDED has no generic load balancer (ORIGINAL_DST "
                   "picks its host from the connection)"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    std::shared_ptr<const LbSharedState> shared, Random& random, const MonotonicClock& clock) {
  if (hosts == nullptr) return absl::InvalidArgumentError("CreateLoadBalancer: no host set");
  if (!config.locality_weighted_lb) {
    return CreatePolicyLoadBalancer(config, std::move(hosts), shared, random, clock);
  }
  auto make_child = [&](std::shared_ptr<const HostSet> locality_hosts) {
    return CreatePolicyLoadBalancer(config, std::move(locality_hosts), nullptr, random, clock);
  };
  ASSIGN_OR_RETURN(auto lb,
                   LocalityWeightedLoadBalancer::Create(shared ? shared->localities : nullptr,
                                                        hosts->hosts().size(), make_child, random));
  return std::unique_ptr<LoadBalancer>(std::move(lb));
}

}  // namespace weft::upstream
