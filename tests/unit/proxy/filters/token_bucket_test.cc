#include "proxy/filters/token_bucket.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace weft::filters {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, StartsFullAndRefillsPerInterval) {
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  TokenBucket bucket(3, 2, milliseconds(100), t0);
  EXPECT_TRUE(bucket.TryConsume(t0));
  EXPECT_TRUE(bucket.TryConsume(t0));
  EXPECT_TRUE(bucket.TryConsume(t0));
  EXPECT_FALSE(bucket.TryConsume(t0 + milliseconds(99)));
  // One interval later: tokens_per_fill more.
  EXPECT_TRUE(bucket.TryConsume(t0 + milliseconds(100)));
  EXPECT_TRUE(bucket.TryConsume(t0 + milliseconds(150)));
  EXPECT_FALSE(bucket.TryConsume(t0 + milliseconds(199)));
  // Many intervals later: never more than max_tokens.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryConsume(t0 + milliseconds(10000)));
  EXPECT_FALSE(bucket.TryConsume(t0 + milliseconds(10000)));
}

TEST(TokenBucketTest, ThreadsNeverTakeMoreThanThereIs) {
  const auto t0 = std::chrono::steady_clock::now();
  TokenBucket bucket(1000, 1, milliseconds(3600 * 1000), t0);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (bucket.TryConsume(t0)) taken.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 1000);
}

}  // namespace
}  // namespace weft::filters
