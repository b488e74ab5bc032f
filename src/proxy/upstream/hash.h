// The hash consistent-hashing load balancers use, for both host placement and request keys.
// It must be the same in every proxy and every release: two sidecars hashing the same cookie must
// land on the same upstream. So it is a fixed function, not absl::Hash (which is seeded per
// process). Thread-safe; header-only because it is called once per request.
#pragma once

#include <cstdint>
#include <string_view>

namespace weft::upstream {

// FNV-1a over the bytes, then MurmurHash3's 64-bit finalizer so that keys differing in their
// last byte still differ in every output bit (plain FNV-1a is weak in the high bits, which the
// ring's binary search and Maglev's modulo both depend on). `seed` gives independent hashes of
// the same key (Maglev needs two).
inline uint64_t HashKey(std::string_view key, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace weft::upstream
