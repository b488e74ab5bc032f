#include "proxy/upstream/ring_hash_lb.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "proxy/upstream/hash.h"

namespace weft::upstream {

absl::StatusOr<std::shared_ptr<const RingHashTable>> RingHashTable::Build(
    const HostSet& hosts, const RingHashConfig& config) {
  if (config.minimum_ring_size == 0 || config.minimum_ring_size > config.maximum_ring_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring_hash_lb_config: minimum_ring_size (", config.minimum_ring_size,
                     ") must be in [1, maximum_ring_size (", config.maximum_ring_size, ")]"));
  }
  auto table = std::make_shared<RingHashTable>();
  const PriorityHosts& level = hosts.primary();
  if (level.hosts.empty()) return table;

  // Scale so the lightest host gets ceil(its share * minimum_ring_size) points, capped at
  // maximum_ring_size in total.
  const double total = static_cast<double>(level.total_weight);
  double min_share = 1.0;
  for (uint32_t index : level.hosts) {
    min_share = std::min(min_share, hosts.hosts()[index]->weight / total);
  }
  const double scale = std::min(std::ceil(min_share * config.minimum_ring_size) / min_share,
                                static_cast<double>(config.maximum_ring_size));
  table->ring_.reserve(static_cast<size_t>(scale) + level.hosts.size());

  // Points are placed by hashing "address_n" for n = 0, 1, ...; running totals keep the
  // rounding error under one point for the whole ring rather than one per host.
  double target = 0;
  uint64_t placed = 0;
  std::string key;
  for (uint32_t index : level.hosts) {
    const Host& host = *hosts.hosts()[index];
    target += scale * (host.weight / total);
    for (uint64_t n = 0; placed < target; ++n, ++placed) {
      key.clear();
      absl::StrAppend(&key, host.address_string, "_", n);
      table->ring_.push_back(Point{HashKey(key), index});
    }
  }
  std::sort(table->ring_.begin(), table->ring_.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.host < b.host;
  });
  return table;
}

int RingHashTable::Lookup(uint64_t hash) const {
  if (ring_.empty()) return -1;
  auto it = std::lower_bound(ring_.begin(), ring_.end(), hash,
                             [](const Point& p, uint64_t h) { return p.hash < h; });
  if (it == ring_.end()) it = ring_.begin();
  return static_cast<int>(it->host);
}

}  // namespace weft::upstream
