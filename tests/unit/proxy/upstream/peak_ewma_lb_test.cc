#include "proxy/upstream/peak_ewma_lb.h"

#include <cmath>
#include <map>

#include "gtest/gtest.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::EqualHostSet;

constexpr double kMs = 1e6;  // nanoseconds

TEST(PeakEwmaTest, NewHostsStartAtTheDefaultRtt) {
  FastRandom random(1);
  FakeMonotonicClock clock;
  PeakEwmaConfig config;  // 30 ms, 10 s
  PeakEwmaLoadBalancer lb(EqualHostSet(2), config, random, clock);
  EXPECT_DOUBLE_EQ(lb.EstimateNanos(0), 30 * kMs);
  EXPECT_DOUBLE_EQ(lb.Cost(1), 30 * kMs);
}

TEST(PeakEwmaTest, ASlowResponseIsTakenAtOnceAndFadesWithTheDecayTime) {
  FastRandom random(1);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(2), PeakEwmaConfig{}, random, clock);
  lb.OnResponseLatency(0, milliseconds(500));
  EXPECT_DOUBLE_EQ(lb.EstimateNanos(0), 500 * kMs);  // the peak, not an average
  clock.Advance(seconds(10));                        // one time constant: e^-1 of it is left
  EXPECT_NEAR(lb.EstimateNanos(0), 500 * kMs * std::exp(-1.0), 1);
}

TEST(PeakEwmaTest, FasterResponsesPullTheEstimateDownByElapsedTime) {
  FastRandom random(1);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(1), PeakEwmaConfig{}, random, clock);
  lb.OnResponseLatency(0, milliseconds(100));
  // 1 s later a 10 ms response: the estimate moves by 1 - e^-0.1 of the difference, so one fast
  // response does not erase a slow history...
  clock.Advance(seconds(1));
  lb.OnResponseLatency(0, milliseconds(10));
  const double keep = std::exp(-0.1);
  EXPECT_NEAR(lb.EstimateNanos(0), 100 * kMs * keep + 10 * kMs * (1 - keep), 1);
  // ...but a steady stream of them does (100 s: e^-10 of the difference is left).
  for (int i = 0; i < 200; ++i) {
    clock.Advance(milliseconds(500));
    lb.OnResponseLatency(0, milliseconds(10));
  }
  EXPECT_NEAR(lb.EstimateNanos(0), 10 * kMs, 0.1 * kMs);
}

TEST(PeakEwmaTest, CostGrowsWithActiveRequests) {
  FastRandom random(1);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(2), PeakEwmaConfig{}, random, clock);
  lb.OnRequestStart(1);
  lb.OnRequestStart(1);
  EXPECT_DOUBLE_EQ(lb.Cost(1), 3 * 30 * kMs);
  EXPECT_EQ(lb.ChooseHost({}), 0);  // two hosts: both are the choices, 0 is cheaper
  lb.OnRequestEnd(1);
  lb.OnRequestEnd(1);
  lb.OnRequestEnd(1);  // an extra end is ignored
  EXPECT_EQ(lb.active_requests(1), 0u);
  lb.OnRequestStart(7);  // out of range: ignored
  lb.OnResponseLatency(-1, milliseconds(1));
}

TEST(PeakEwmaTest, TheTwoChoicesAreDistinctHosts) {
  // Uniform(3) of 0 is slot 0, and Uniform(2) of 0 would be slot 0 again: it must become slot 1.
  FakeRandom random({0, 0});
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(3), PeakEwmaConfig{}, random, clock);
  lb.OnResponseLatency(0, milliseconds(100));
  EXPECT_EQ(lb.ChooseHost({}), 1);
}

// Simulates sequential traffic: each response arrives after its host's latency.
std::map<int, int> Simulate(PeakEwmaLoadBalancer& lb, FakeMonotonicClock& clock, int slow_host,
                            int requests) {
  std::map<int, int> counts;
  for (int i = 0; i < requests; ++i) {
    int host = lb.ChooseHost({});
    ++counts[host];
    lb.OnRequestStart(host);
    milliseconds latency = host == slow_host ? milliseconds(50) : milliseconds(1);
    clock.Advance(latency);
    lb.OnResponseLatency(host, latency);
    lb.OnRequestEnd(host);
  }
  return counts;
}

TEST(PeakEwmaTest, ASlowHostGetsASmallShare) {
  FastRandom random(7);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(3), PeakEwmaConfig{}, random, clock);
  std::map<int, int> counts = Simulate(lb, clock, /*slow_host=*/2, 3000);
  // Round robin would give it 1000. Peak EWMA only returns to it once its estimate has decayed
  // below the fast hosts' (or both choices... never: they are distinct).
  EXPECT_LT(counts[2], 100) << counts[0] << " " << counts[1] << " " << counts[2];
  EXPECT_GT(counts[0], 1000);
  EXPECT_GT(counts[1], 1000);
}

TEST(PeakEwmaTest, ASlowHostIsRetriedAfterItsEstimateDecays) {
  FastRandom random(7);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer lb(EqualHostSet(2), PeakEwmaConfig{}, random, clock);
  lb.OnResponseLatency(0, milliseconds(50));
  lb.OnResponseLatency(1, milliseconds(1));
  EXPECT_EQ(lb.ChooseHost({}), 1);
  // 50 ms decays below 1 ms after 10 s * ln(50) ~ 39 s without traffic; host 1's 1 ms decays
  // too, but host 1 keeps answering in 1 ms while host 0 is idle.
  for (int i = 0; i < 45; ++i) {
    clock.Advance(seconds(1));
    lb.OnResponseLatency(1, milliseconds(1));
  }
  EXPECT_EQ(lb.ChooseHost({}), 0);
}

TEST(PeakEwmaTest, EmptyAndSingleHostSets) {
  FastRandom random(1);
  FakeMonotonicClock clock;
  PeakEwmaLoadBalancer empty(EqualHostSet(0), PeakEwmaConfig{}, random, clock);
  EXPECT_EQ(empty.ChooseHost({}), -1);
  PeakEwmaLoadBalancer one(EqualHostSet(1), PeakEwmaConfig{}, random, clock);
  EXPECT_EQ(one.ChooseHost({}), 0);
}

}  // namespace
}  // namespace weft::upstream
