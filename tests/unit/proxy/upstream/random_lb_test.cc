#include "proxy/upstream/random_lb.h"

#include <map>

#include "gtest/gtest.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

TEST(RandomLbTest, EqualWeightsSpreadEvenly) {
  FastRandom random(5);
  RandomLoadBalancer lb(testing::EqualHostSet(4), random);
  std::map<int, int> counts;
  for (int i = 0; i < 40000; ++i) ++counts[lb.ChooseHost({})];
  ASSERT_EQ(counts.size(), 4u);
  for (auto& [host, count] : counts) EXPECT_NEAR(count, 10000, 500) << host;
}

TEST(RandomLbTest, UnequalWeightsSpreadByWeight) {
  FastRandom random(6);
  RandomLoadBalancer lb(testing::TestHostSet({1, 2, 7}), random);
  std::map<int, int> counts;
  for (int i = 0; i < 50000; ++i) ++counts[lb.ChooseHost({})];
  EXPECT_NEAR(counts[0], 5000, 500);
  EXPECT_NEAR(counts[1], 10000, 700);
  EXPECT_NEAR(counts[2], 35000, 1000);
}

TEST(RandomLbTest, EdgesOfTheRandomRangeMapToFirstAndLastHost) {
  FakeRandom low({0});
  FakeRandom high({~0ULL});
  auto hosts = testing::TestHostSet({1, 2, 7});
  EXPECT_EQ(RandomLoadBalancer(hosts, low).ChooseHost({}), 0);
  EXPECT_EQ(RandomLoadBalancer(hosts, high).ChooseHost({}), 2);
  FastRandom random(1);
  EXPECT_EQ(RandomLoadBalancer(HostSet::Create({}), random).ChooseHost({}), -1);
}

}  // namespace
}  // namespace weft::upstream
