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
// Only priority 0 is balanced for now (HostSet::primary()); hosts keep their priority and locality
// so priority failover and locality-weighted selection can be layered on top: the plan is a
// per-priority choice first (by health), then these algorithms over that level's hosts.
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

// Immutable per-HostSet tables, shared by every worker's LoadBalancer. Empty for the
// algorithms that need none.
struct LbSharedState {
  std::shared_ptr<const RingHashTable> ring;
  std::shared_ptr<const MaglevTable> maglev;
  std::shared_ptr<const LocalityHostSets> localities;  // locality_weighted_lb only
};

// Main thread, once per published HostSet. Returns nullptr for algorithms without shared state;
// an error for an invalid configuration (e.g. a non-prime Maglev table size).
absl::StatusOr<std::shared_ptr<const LbSharedState>> BuildLbSharedState(const ClusterConfig& config,
                                                                        const HostSet& hosts);

// Per worker. `shared` must come from BuildLbSharedState() for the same `hosts`. `random` must
// outlive the balancer (it is the worker's generator), and so must `clock` (read by PEAK_EWMA).
// Returns an error for LB policies this proxy does not implement (CLUSTER_PROVIDED, which
// ORIGINAL_DST handles itself).
absl::StatusOr<std::unique_ptr<LoadBalancer>> CreateLoadBalancer(
    const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
    std::shared_ptr<const LbSharedState> shared, Random& random,
    const MonotonicClock& clock = SteadyClock::Instance());

}  // namespace weft::upstream
