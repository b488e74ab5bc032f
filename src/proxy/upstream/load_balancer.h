// Load balancing: choosing an upstream host for each request.
//
// Split in two, as the hot path needs:
//   - LbSharedState: what is expensive and the same for every worker (the ring of RING_HASH, the
//     lookup table of MAGLEV). Built once per HostSet on the main thread by BuildLbSharedState()
//     and shared immutably with every worker.
//   - LoadBalancer: one instance per worker per cluster, holding that worker's mutable state
//     (round-robin position, active request counts). Not thread-safe, never locked; the worker
//     makes a new one (cheap) when a new HostSet is published.
//
// Health and priorities: the main thread folds host health into LbSharedState, one entry per
// priority level that takes traffic (its share from priority_load.h, and a HostSet view whose
// primary() holds the hosts to pick from: the healthy ones, or all of them in panic). A worker's
// balancer is then one algorithm instance per such level; a request first rolls for a level
// (skipped when one level takes everything), then that level's algorithm picks. Health changes
// rebuild the shared state and the per-worker balancers, exactly like a membership change, so
// the per-request path never looks at health.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "base/monotonic_clock.h"
#include "base/random.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"

namespace weft::upstream {

// What a request tells the load balancer.
struct LbContext {
  std::optional<uint64_t> hash;  // from the route's hash_policy (see hash.h's HashKey)
};

class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // Returns the index into the HostSet's hosts(), or -1 when there is no host.
  virtual int ChooseHost(const LbContext& context) = 0;
  // LEAST_REQUEST bookkeeping: the connection manager calls these around each request, with
  // the index ChooseHost() returned. Other algorithms ignore them.
  virtual void OnRequestStart(int host) {}
  virtual void OnRequestEnd(int host) {}
  // PEAK_EWMA's measurement: the time from sending a request to `host` until its response
  // headers arrived. Other algorithms ignore it.
  virtual void OnResponseLatency(int host, std::chrono::nanoseconds latency) {}
};

class RingHashTable;
class MaglevTable;
struct LocalityHostSets;

// One priority level that takes traffic, as the balancers see it.
struct LevelLbState {
  uint32_t priority = 0;
  uint32_t load = 100;                  // percent of requests
  bool panic = false;                   // `view` holds every host of the level, healthy or not
  std::shared_ptr<const HostSet> view;  // view->primary(): the hosts to pick from
  std::shared_ptr<const RingHashTable> ring;           // RING_HASH only
  std::shared_ptr<const MaglevTable> maglev;           // MAGLEV only
  std::shared_ptr<const LocalityHostSets> localities;  // locality_weighted_lb only
};

// Immutable per-(HostSet, health) state, shared by every worker's LoadBalancer.
struct LbSharedState {
  std::vector<LevelLbState> levels;     // levels with load > 0, in priority order
  std::vector<bool> panic_by_priority;  // indexed by priority; all false when none panics
  bool any_panic = false;
  uint32_t healthy_hosts = 0;  // for the membership_healthy gauge
};

// Main thread, once per published HostSet and whenever health changes. `health` is indexed like
// hosts.hosts() (empty: all healthy). An error for an invalid configuration (e.g. a non-prime
// Maglev table size).
absl::StatusOr<std::shared_ptr<const LbSharedState>> BuildLbSharedState(
    const ClusterConfig& config, const HostSet& hosts, const HostHealth& health = {});

// Per worker. `shared` must come from BuildLbSharedState() for the same `hosts` (nullptr: all
// hosts healthy, priority 0 only, for algorithms that need no tables). `random` must
// outlive the balancer (it is the worker's generator). Returns an error for LB policies this
// proxy does not implement (CLUSTER_PROVIDED, which ORIGINAL_DST handles itself).
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    std::shared_ptr<const LbSharedState> shared, Random& random,
    const MonotonicClock& clock = SteadyClock::Instance());

}  // namespace weft::upstream
