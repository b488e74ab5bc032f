// Injectable randomness. Load balancers and anything else that rolls dice take a `Random&`, so
// production uses a fast per-thread generator and tests use a fixed seed or a scripted sequence.
//
// Thread-safety: none. Each worker owns its own generator (a shared one would need a lock or
// atomics on the data path).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace weft {

class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed 64-bit value.
  virtual uint64_t Next() = 0;

  // Uniform in [0, n) for n > 0, by Lemire's multiply-shift: no division, and a bias of at most
  // n / 2^64, which no load balancer can observe.
  uint64_t Uniform(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1) with 53 bits of precision.
  double UniformDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
};

// SplitMix64 (Steele, Lea, Flood 2014): used to expand one seed into xoshiro's state, and as a
// cheap, good 64-bit mixer.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/): a few cycles per value and
// statistically strong enough for load balancing. Not for secrets.
class FastRandom final : public Random {
 public:
  explicit FastRandom(uint64_t seed) {
    for (auto& word : state_) word = SplitMix64(seed);
  }
  // A seed that differs per thread and per run, for production use.
  static FastRandom FromClockAndThread() {
    uint64_t seed =
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (std::hash<std::thread::id>{}(std::this_thread::get_id()) << 1);
    return FastRandom(seed);
  }

  uint64_t Next() override {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// For tests: returns the scripted values in order, then repeats the last one (0 if none).
class FakeRandom final : public Random {
 public:
  FakeRandom() = default;
  explicit FakeRandom(std::vector<uint64_t> values) : values_(std::move(values)) {}
  void Push(uint64_t value) { values_.push_back(value); }

  uint64_t Next() override {
    if (values_.empty()) return 0;
    if (next_ < values_.size()) return values_[next_++];
    return values_.back();
  }

 private:
  std::vector<uint64_t> values_;
  size_t next_ = 0;
};

}  // namespace weft
