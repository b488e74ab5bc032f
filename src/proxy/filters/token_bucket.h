// A token bucket shared by every worker without a lock: `max_tokens` to start with and at most,
// `tokens_per_fill` more every `fill_interval` (envoy.type.v3.TokenBucket). Used by the local rate
// limit filter, whose limit is per proxy (all workers together), as in Envoy.
//
// Thread-safe: one 64-bit atomic holds (fill epoch, tokens); TryConsume is a CAS loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "event/dispatcher.h"

namespace weft::filters {

class TokenBucket {
 public:
  TokenBucket(uint32_t max_tokens, uint32_t tokens_per_fill,
              std::chrono::milliseconds fill_interval, event::MonotonicTime start);

  // Takes one token if there is one (after adding the fills due by `now`).
  bool TryConsume(event::MonotonicTime now);
  uint32_t max_tokens() const { return max_tokens_; }

 private:
  const uint32_t max_tokens_;
  const uint32_t tokens_per_fill_;
  const std::chrono::nanoseconds fill_interval_;
  const event::MonotonicTime start_;
  // High 32 bits: fill intervals elapsed since start_ when last refilled; low 32 bits: tokens.
  std::atomic<uint64_t> state_;
};

}  // namespace weft::filters
