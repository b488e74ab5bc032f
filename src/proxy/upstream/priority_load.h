// Which priority level takes how much of a cluster's traffic, from each level's health: Envoy's
// priority failover and panic threshold
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/priority
// and .../load_balancing/panic_threshold).
//
//   - A level's health is min(100, overprovisioning_factor * healthy / total) percent (factor 140:
//     a level with 72% of its hosts healthy still counts as fully healthy).
//   - Levels are filled in order: P0 takes its health, P1 what it can of the rest, and so on;
//     when the health of all levels sums to less than 100 ("normalized total health"), each
//     level's share is scaled up so the loads still sum to 100.
//   - Panic: only when normalized total health is below 100, a level whose healthy share
//     (healthy / total, not overprovisioned) is below healthy_panic_threshold balances over all
//     of its hosts, healthy or not. When every level is in panic, load follows the number of
//     hosts in each level.
//
// Pure arithmetic, computed on the main thread whenever health or membership changes; the
// workers only read the result (no per-request work beyond one roll against these percentages).
#pragma once

#include <cstdint>
#include <vector>

namespace weft::upstream {

struct LevelHealth {
  uint32_t healthy = 0;
  uint32_t total = 0;
};

struct PriorityLoad {
  std::vector<uint32_t> load;  // percent per level; sums to 100 unless there are no hosts at all
  std::vector<bool> panic;     // per level: balance over all of its hosts
};

PriorityLoad ComputePriorityLoad(const std::vector<LevelHealth>& levels,
                                 uint32_t overprovisioning_factor, double panic_threshold);

}  // namespace weft::upstream
