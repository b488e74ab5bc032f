#include "proxy/upstream/priority_load.h"

#include <numeric>

#include "gtest/gtest.h"

namespace weft::upstream {
namespace {

uint32_t Sum(const PriorityLoad& p) { return std::accumulate(p.load.begin(), p.load.end(), 0u); }

TEST(PriorityLoadTest, AllHealthyStaysOnPriorityZero) {
  PriorityLoad p = ComputePriorityLoad({{3, 3}, {2, 2}}, 140, 50);
  EXPECT_EQ(p.load, (std::vector<uint32_t>{100, 0}));
  EXPECT_EQ(p.panic, (std::vector<bool>{false, false}));
}

TEST(PriorityLoadTest, OverprovisioningKeepsMildlyDegradedLevelFull) {
  // 3 of 4 healthy: 140 * 3/4 = 105 -> capped at 100, no spill.
  EXPECT_EQ(ComputePriorityLoad({{3, 4}, {2, 2}}, 140, 50).load, (std::vector<uint32_t>{100, 0}));
  // Without overprovisioning (factor 100) the same level keeps 75%.
  EXPECT_EQ(ComputePriorityLoad({{3, 4}, {2, 2}}, 100, 50).load, (std::vector<uint32_t>{75, 25}));
}

TEST(PriorityLoadTest, SpillsToTheNextLevelByHealth) {
  // P0: 1 of 2 healthy -> 70%; P1 takes the other 30.
  PriorityLoad p = ComputePriorityLoad({{1, 2}, {2, 2}}, 140, 50);
  EXPECT_EQ(p.load, (std::vector<uint32_t>{70, 30}));
  EXPECT_EQ(p.panic, (std::vector<bool>{false, false}));
  // P0 down: everything on P1.
  EXPECT_EQ(ComputePriorityLoad({{0, 2}, {2, 2}}, 140, 50).load, (std::vector<uint32_t>{0, 100}));
  // P0 and P1 down: P2.
  EXPECT_EQ(ComputePriorityLoad({{0, 2}, {0, 1}, {1, 1}}, 140, 50).load,
            (std::vector<uint32_t>{0, 0, 100}));
}

TEST(PriorityLoadTest, NoPanicWhileTheLevelsTogetherAreHealthyEnough) {
  // P0 is 25% healthy (< 50) but P1 makes the normalized total 100: P0 is not in panic.
  PriorityLoad p = ComputePriorityLoad({{1, 4}, {4, 4}}, 140, 50);
  EXPECT_EQ(p.load, (std::vector<uint32_t>{35, 65}));
  EXPECT_EQ(p.panic, (std::vector<bool>{false, false}));
}

TEST(PriorityLoadTest, PanicBelowThresholdWhenTotalIsShort) {
  // One level, 2 of 5 healthy (40% < 50%): health 56, total < 100 -> panic, all load on it.
  PriorityLoad p = ComputePriorityLoad({{2, 5}}, 140, 50);
  EXPECT_EQ(p.load, (std::vector<uint32_t>{100}));
  EXPECT_EQ(p.panic, (std::vector<bool>{true}));
  // Same health above a lower threshold: no panic, the healthy hosts take it all.
  p = ComputePriorityLoad({{2, 5}}, 140, 30);
  EXPECT_EQ(p.panic, (std::vector<bool>{false}));
  EXPECT_EQ(p.load, (std::vector<uint32_t>{100}));
}

TEST(PriorityLoadTest, TotalPanicSpreadsByHostCount) {
  PriorityLoad p = ComputePriorityLoad({{0, 3}, {0, 1}}, 140, 50);
  EXPECT_EQ(p.load, (std::vector<uint32_t>{75, 25}));
  EXPECT_EQ(p.panic, (std::vector<bool>{true, true}));
  // A panic threshold of 0 disables panic: nothing is eligible.
  p = ComputePriorityLoad({{0, 3}}, 140, 0);
  EXPECT_EQ(p.panic, (std::vector<bool>{false}));
}

TEST(PriorityLoadTest, LoadsAlwaysSumTo100) {
  for (uint32_t a = 0; a <= 3; ++a) {
    for (uint32_t b = 0; b <= 3; ++b) {
      for (uint32_t c = 0; c <= 3; ++c) {
        PriorityLoad p = ComputePriorityLoad({{a, 3}, {b, 3}, {c, 3}}, 140, 50);
        EXPECT_EQ(Sum(p), 100u) << a << b << c;
      }
    }
  }
  EXPECT_EQ(Sum(ComputePriorityLoad({}, 140, 50)), 0u);
  EXPECT_EQ(Sum(ComputePriorityLoad({{0, 0}}, 140, 50)), 0u);
}

}  // namespace
}  // namespace weft::upstream
