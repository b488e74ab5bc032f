// MAGLEV: consistent hashing by lookup table, from Google's "Maglev: A Fast and Reliable Software
// Network Load Balancer" (NSDI 2016, section 3.4). Every host has a preference list, a
// permutation of the table's slots given by an offset and a skip drawn from two independent
// hashes of its address; hosts take turns claiming their next free preferred slot until the
// table is full. Lookups are one modulo and one array read; a host change moves few keys.
// Weights follow the approach Envoy documents: a host of weight w takes a turn in proportion to
// w / max_weight, so it ends up owning about its share of the slots.
//
// MaglevTable is built once per HostSet on the main thread and shared read-only by all workers;
// MaglevLoadBalancer is the per-worker front. Thread-safety: table immutable; balancer per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/random.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

class MaglevTable {
 public:
  // `table_size` must be prime (so every skip visits every slot).
  static absl::StatusOr<std::shared_ptr<const MaglevTable>> Build(const HostSet& hosts,
                                                                  uint64_t table_size);
  // The host index owning `hash`, or -1 when there are no hosts.
  int Lookup(uint64_t hash) const {
    return table_.empty() ? -1 : static_cast<int>(table_[hash % table_.size()]);
  }
  // Slot i's owner, for tests and the admin page.
  const std::vector<uint32_t>& slots() const { return table_; }

 private:
  std::vector<uint32_t> table_;  // slot -> index into HostSet::hosts()
};

class MaglevLoadBalancer final : public LoadBalancer {
 public:
  MaglevLoadBalancer(std::shared_ptr<const MaglevTable> table, Random& random)
      : table_(std::move(table)), random_(random) {}
  int ChooseHost(const LbContext& context) override {
    return table_->Lookup(context.hash ? *context.hash : random_.Next());
  }

 private:
  std::shared_ptr<const MaglevTable> table_;
  Random& random_;
};

bool IsPrime(uint64_t n);

}  // namespace weft::upstream
