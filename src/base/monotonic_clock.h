// Injectable monotonic time, for code whose behaviour depends on elapsed time but that has no
// dispatcher to ask (load balancers that age their measurements). Production passes
// SteadyClock::Instance(); tests pass a FakeMonotonicClock and advance it, so they never sleep.
//
// Thread-safety: SteadyClock is stateless and safe everywhere; FakeMonotonicClock is not
// thread-safe (tests drive it from one thread).
#pragma once

#include <chrono>

namespace weft {

class MonotonicClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual TimePoint Now() const = 0;
};

class SteadyClock final : public MonotonicClock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  static const SteadyClock& Instance() {
    static const SteadyClock clock;
    return clock;
  }
};

class FakeMonotonicClock final : public MonotonicClock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(std::chrono::steady_clock::duration by) { now_ += by; }

 private:
  TimePoint now_{std::chrono::seconds(1000)};  // not the epoch, so "long ago" is representable
};

}  // namespace weft
