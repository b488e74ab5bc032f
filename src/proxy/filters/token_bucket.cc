#include "proxy/filters/token_bucket.h"

#include <algorithm>

namespace weft::filters {

TokenBucket::TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill,
                         std::chrono::milliseconds fill_interval, event::MonotonicTime start)
    : max_tokens_(max_tokens),
      tokens_per_fill_(tokens_per_fill),
      fill_interval_(std::max(fill_interval, std::chrono::milliseconds(1))),
      start_(start),
      state_(max_tokens) {}

bool TokenBucket::TryConsume(event::MonotonicTime now) {
  // 2^32 intervals of at least 1 ms is over 49 days; the epoch wraps after that, which at worst
  // refills the bucket once early.
  const auto epoch_now = static_cast<uint32_t>((now - start_) / fill_interval_);
  uint64_t old_state = state_.load(std::memory_order_relaxed);
  for (;;) {
    const auto epoch = static_cast<uint32_t>(old_state >> 32);
    uint64_t tokens = old_state & 0xffffffffULL;
    const uint32_t fills = epoch_now - epoch;
    if (fills > 0) {
      tokens = std::min<uint64_t>(max_tokens_, tokens + uint64_t{fills} * tokens_per_fill_);
    }
    if (tokens == 0) return false;
    const uint64_t new_state = (uint64_t{epoch_now} << 32) | (tokens - 1);
    if (state_.compare_exchange_weak(old_state, new_state, std::memory_order_relaxed)) return true;
  }
}

}  // namespace weft::filters
