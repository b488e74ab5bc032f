#include "proxy/upstream/maglev_lb.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "proxy/upstream/hash.h"

namespace weft::upstream {

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<const MaglevTable>> MaglevTable::Build(const HostSet& hosts,
                                                                      uint64_t table_size) {
  if (!IsPrime(table_size) || table_size > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("maglev_lb_config.table_size must be a prime, got ", table_size));
  }
  auto table = std::make_shared<MaglevTable>();
  const PriorityHosts& level = hosts.primary();
  if (level.hosts.empty()) return table;

  struct Builder {
    uint32_t host;
    uint64_t position;  // the next preferred slot: offset + k * skip (mod table_size)
    uint64_t skip;
    double share;       // weight / max weight, in (0, 1]
    double credit = 0;  // turns earned but not yet taken
  };
  uint32_t max_weight = 1;
  for (uint32_t index : level.hosts)
    max_weight = std::max(max_weight, hosts.hosts()[index]->weight);
  std::vector<Builder> builders;
  builders.reserve(level.hosts.size());
  for (uint32_t index : level.hosts) {
    const Host& host = *hosts.hosts()[index];
    uint64_t offset = HashKey(host.address_string, 0) % table_size;
    uint64_t skip = HashKey(host.address_string, 1) % (table_size - 1) + 1;
    builders.push_back(Builder{index, offset, skip, static_cast<double>(host.weight) / max_weight});
  }

  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  table->table_.assign(table_size, kEmpty);
  uint64_t filled = 0;
  while (filled < table_size) {
    for (Builder& b : builders) {
      if (filled == table_size) break;
      b.credit += b.share;
      if (b.credit < 1.0) continue;  // a lighter host skips this round
      b.credit -= 1.0;
      while (table->table_[b.position] != kEmpty) b.position = (b.position + b.skip) % table_size;
      table->table_[b.position] = b.host;
      b.position = (b.position + b.skip) % table_size;
      ++filled;
    }
  }
  return table;
}

}  // namespace weft::upstream
