// RING_HASH: consistent hashing on a ring (Karger et al. 1997), sized and weighted as Envoy
// documents for ring_hash_lb_config
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers#ring-hash).
// Each host gets a number of points on a 64-bit ring proportional to its weight, so that the
// lightest host still gets about minimum_ring_size * its share, with the ring never exceeding
// maximum_ring_size. A request hash picks the first point at or after it (wrapping), so adding
// or removing one of N hosts moves only about 1/N of the keys.
//
// RingHashTable is built once per HostSet on the main thread and shared read-only by all
// workers; RingHashLoadBalancer is the per-worker front (it only needs Random for requests that
// carry no hash). Thread-safety: the table is immutable; the balancer is per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class RingHashTable {
 public:
  static absl::StatusOr<std::shared_ptr<const RingHashTable>> Build(const HostSet& hosts,
                                                                    const RingHashConfig& config);
  // The host index owning `hash`, or -1 for an empty ring.
  int Lookup(uint64_t hash) const;
  size_t size() const { return ring_.size(); }

 private:
  struct Point {
    uint64_t hash;
    uint32_t host;
  };
  std::vector<Point> ring_;  // sorted by hash
};

class RingHashLoadBalancer final : public LoadBalancer {
 public:
  RingHashLoadBalancer(std::shared_ptr<const RingHashTable> ring, Random& random)
      : ring_(std::move(ring)), random_(random) {}
  int ChooseHost(const LbContext& context) override {
    return ring_->Lookup(context.hash ? *context.hash : random_.Next());
  }

 private:
  std::shared_ptr<const RingHashTable> ring_;
  Random& random_;
};

}  // namespace weft::upstream
