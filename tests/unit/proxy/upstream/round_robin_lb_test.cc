#include "proxy/upstream/round_robin_lb.h"

#include <map>
#include <set>

#include "gtest/gtest.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using testing::EqualHostSet;
using testing::TestHostSet;

TEST(RoundRobinTest, EqualWeightsRotateThroughEveryHost) {
  FastRandom random(1);
  RoundRobinLoadBalancer lb(EqualHostSet(5), random);
  int first = lb.ChooseHost({});
  for (int i = 1; i < 20; ++i) EXPECT_EQ(lb.ChooseHost({}), (first + i) % 5);
}

TEST(RoundRobinTest, StartsAtARandomHostPerWorker) {
  auto hosts = EqualHostSet(4);
  FakeRandom at_zero({0});
  FakeRandom at_three({~0ULL});  // Uniform(4) of the largest value is 3
  EXPECT_EQ(RoundRobinLoadBalancer(hosts, at_zero).ChooseHost({}), 0);
  EXPECT_EQ(RoundRobinLoadBalancer(hosts, at_three).ChooseHost({}), 3);

  std::set<int> starts;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    FastRandom random(seed);
    starts.insert(RoundRobinLoadBalancer(hosts, random).ChooseHost({}));
  }
  EXPECT_EQ(starts.size(), 4u);
}

TEST(RoundRobinTest, WeightsGiveExactProportionsOverEveryCycle) {
  const std::vector<uint32_t> weights = {1, 3, 6, 2};
  const int cycle = 12;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    FastRandom random(seed);
    RoundRobinLoadBalancer lb(TestHostSet(weights), random);
    // Several consecutive cycles, each of which must hold exactly `weight` picks per host.
    for (int round = 0; round < 5; ++round) {
      std::map<int, int> counts;
      for (int i = 0; i < cycle; ++i) ++counts[lb.ChooseHost({})];
      for (size_t h = 0; h < weights.size(); ++h) {
        EXPECT_EQ(counts[static_cast<int>(h)], static_cast<int>(weights[h]))
            << "seed " << seed << " round " << round << " host " << h;
      }
    }
  }
}

TEST(RoundRobinTest, WeightedScheduleIsEarliestDeadlineFirst) {
  FakeRandom random({0});  // no pre-picks: start at the beginning of the schedule
  RoundRobinLoadBalancer lb(TestHostSet({1, 1, 4}), random);
  // Host 2 is due at 1/4, 2/4, 3/4, 1; hosts 0 and 1 at 1. Ties go to the lower index.
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(lb.ChooseHost({}));
  EXPECT_EQ(picks, (std::vector<int>{2, 2, 2, 0, 1, 2}));
}

TEST(RoundRobinTest, EmptyHostSetReturnsMinusOne) {
  FastRandom random(1);
  RoundRobinLoadBalancer lb(HostSet::Create({}), random);
  EXPECT_EQ(lb.ChooseHost({}), -1);
}

TEST(RoundRobinTest, OnlyPriorityZeroIsUsed) {
  FastRandom random(3);
  auto hosts = HostSet::Create(
      {testing::TestHost(0, 1, 0), testing::TestHost(1, 1, 1), testing::TestHost(2, 1, 0)});
  RoundRobinLoadBalancer lb(hosts, random);
  for (int i = 0; i < 10; ++i) EXPECT_NE(lb.ChooseHost({}), 1);
}

}  // namespace
}  // namespace weft::upstream
