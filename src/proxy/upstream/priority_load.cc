#include "proxy/upstream/priority_load.h"

#include <algorithm>

namespace weft::upstream {
namespace {

// Gives `remainder` (rounding leftovers) to the first level that can take traffic.
void AssignRemainder(std::vector<uint32_t>& load, const std::vector<uint32_t>& eligible,
                     uint32_t remainder) {
  if (remainder == 0) return;
  for (size_t i = 0; i < load.size(); ++i) {
    if (eligible[i] > 0) {
      load[i] += remainder;
      return;
    }
  }
}

}  // namespace

PriorityLoad ComputePriorityLoad(const std::vector<LevelHealth>& levels,
                                 uint32_t overprovisioning_factor, double panic_threshold) {
  const size_t n = levels.size();
  PriorityLoad result{std::vector<uint32_t>(n, 0), std::vector<bool>(n, false)};
  std::vector<uint32_t> health(n, 0);
  uint32_t total_health = 0;
  for (size_t i = 0; i < n; ++i) {
    if (levels[i].total == 0) continue;
    const uint64_t h =
        static_cast<uint64_t>(overprovisioning_factor) * levels[i].healthy / levels[i].total;
    health[i] = static_cast<uint32_t>(std::min<uint64_t>(100, h));
    total_health += health[i];
  }
  const uint32_t normalized_total = std::min<uint32_t>(100, total_health);

  if (normalized_total < 100) {
    for (size_t i = 0; i < n; ++i) {
      const double healthy_percent =
          levels[i].total == 0 ? 0.0 : 100.0 * levels[i].healthy / levels[i].total;
      result.panic[i] = healthy_percent < panic_threshold;
    }
  }
  bool all_panic =
      n > 0 && std::all_of(result.panic.begin(), result.panic.end(), [](bool p) { return p; });
  if (normalized_total == 0 || all_panic) {
    // Nothing (or not enough anywhere) is healthy: spread by host count, every level balancing
    // over all of its hosts. With no healthy host at all this is the whole cluster in panic.
    uint64_t hosts = 0;
    for (const LevelHealth& l : levels) hosts += l.total;
    if (hosts == 0) return result;
    std::vector<uint32_t> totals(n);
    uint32_t assigned = 0;
    for (size_t i = 0; i < n; ++i) {
      totals[i] = levels[i].total;
      result.load[i] = static_cast<uint32_t>(100 * levels[i].total / hosts);
      assigned += result.load[i];
      result.panic[i] = levels[i].total > 0 && panic_threshold > 0;
    }
    AssignRemainder(result.load, totals, 100 - assigned);
    return result;
  }

  uint32_t remaining = 100;
  for (size_t i = 0; i < n; ++i) {
    result.load[i] = std::min(remaining, health[i] * 100 / normalized_total);
    remaining -= result.load[i];
  }
  AssignRemainder(result.load, health, remaining);
  return result;
}

}  // namespace weft::upstream
