#include "proxy/upstream/load_balancer.h"

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "proxy/upstream/least_request_lb.h"
#include "proxy/upstream/maglev_lb.h"
#include "proxy/upstream/random_lb.h"
#include "proxy/upstream/ring_hash_lb.h"
#include "proxy/upstream/round_robin_lb.h"

namespace weft::upstream {

absl::StatusOr<std::shared_ptr<const LbSharedState>> BuildLbSharedState(const ClusterConfig& config,
                                                                        const HostSet& hosts) {
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

absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    std::shared_ptr<const LbSharedState> shared, Random& random) {
  if (hosts == nullptr) return absl::InvalidArgumentError("CreateLoadBalancer: no host set");
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
    case LbPolicy::kClusterProvided:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("cluster '", config.name,
                   "': lb_policy CLUSTER_PROVIDED has no generic load balancer (ORIGINAL_DST "
                   "picks its host from the connection)"));
}

}  // namespace weft::upstream
