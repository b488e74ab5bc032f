#include "proxy/upstream/least_request_lb.h"

#include <map>

#include "gtest/gtest.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using testing::EqualHostSet;
using testing::TestHostSet;

TEST(LeastRequestTest, PrefersTheIdleHostOfTheTwoChoices) {
  // Uniform(4) maps the top two bits: 0 -> host 0, ~0 -> host 3.
  FakeRandom random({0, ~0ULL, ~0ULL, 0});
  LeastRequestLoadBalancer lb(EqualHostSet(4), 2, random);
  lb.OnRequestStart(0);
  EXPECT_EQ(lb.ChooseHost({}), 3);  // choices 0 (busy) and 3 (idle)
  lb.OnRequestStart(3);
  lb.OnRequestStart(3);
  EXPECT_EQ(lb.ChooseHost({}), 0);  // choices 3 (2 active) and 0 (1 active)
}

TEST(LeastRequestTest, IdleHostsGetAlmostAllNewRequests) {
  FastRandom random(42);
  LeastRequestLoadBalancer lb(EqualHostSet(4), 2, random);
  // Hosts 0 and 1 are stuck with long requests.
  for (int i = 0; i < 10; ++i) {
    lb.OnRequestStart(0);
    lb.OnRequestStart(1);
  }
  std::map<int, int> counts;
  for (int i = 0; i < 1000; ++i) {
    int host = lb.ChooseHost({});
    ++counts[host];
    lb.OnRequestStart(host);
    lb.OnRequestEnd(host);  // short requests: they finish at once
  }
  // A busy host is only chosen when both random choices land on busy hosts: ~1/4 of the time.
  EXPECT_GT(counts[2] + counts[3], 650);
  EXPECT_LT(counts[0] + counts[1], 350);
}

TEST(LeastRequestTest, BookkeepingCountsActiveRequests) {
  FastRandom random(1);
  LeastRequestLoadBalancer lb(EqualHostSet(2), 2, random);
  lb.OnRequestStart(1);
  lb.OnRequestStart(1);
  lb.OnRequestEnd(1);
  EXPECT_EQ(lb.active_requests(1), 1u);
  lb.OnRequestEnd(0);  // never below zero
  EXPECT_EQ(lb.active_requests(0), 0u);
  lb.OnRequestStart(-1);  // ignored
  lb.OnRequestStart(7);
}

TEST(LeastRequestTest, UnequalWeightsFollowWeightOverActiveRequests) {
  FastRandom random(7);
  LeastRequestLoadBalancer lb(TestHostSet({1, 3}), 2, random);
  std::map<int, int> counts;
  for (int i = 0; i < 4000; ++i) ++counts[lb.ChooseHost({})];
  // Idle: picks follow the weights, 1:3.
  EXPECT_NEAR(counts[1] / 4000.0, 0.75, 0.01);

  // Host 1 now has 5 requests in flight: its effective weight is 3 / 6 = 0.5 against host 0's 1,
  // so host 0 gets about two thirds of the picks.
  for (int i = 0; i < 5; ++i) lb.OnRequestStart(1);
  counts.clear();
  for (int i = 0; i < 3000; ++i) ++counts[lb.ChooseHost({})];
  EXPECT_NEAR(counts[0] / 3000.0, 2.0 / 3.0, 0.02);
}

TEST(LeastRequestTest, EmptyHostSetReturnsMinusOne) {
  FastRandom random(1);
  LeastRequestLoadBalancer lb(HostSet::Create({}), 2, random);
  EXPECT_EQ(lb.ChooseHost({}), -1);
}

}  // namespace
}  // namespace weft::upstream
