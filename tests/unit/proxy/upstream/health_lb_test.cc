// Balancers over health: unhealthy hosts are skipped by every policy, priorities fail over, and
// panic balances over all hosts.
#include <map>

#include "gtest/gtest.h"
#include "proxy/upstream/hash.h"
#include "proxy/upstream/load_balancer.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

std::map<int, int> Picks(const ClusterConfig& config, std::shared_ptr<const HostSet> hosts,
                         const HostHealth& health, int n = 2000) {
  FastRandom random(7);
  auto shared = BuildLbSharedState(config, *hosts, health);
  EXPECT_TRUE(shared.ok()) << shared.status();
  auto lb = CreateLoadBalancer(config, hosts, *shared, random);
  EXPECT_TRUE(lb.ok()) << lb.status();
  std::map<int, int> picks;
  for (int i = 0; i < n; ++i) {
    ++picks[(*lb)->ChooseHost(LbContext{HashKey("k" + std::to_string(i))})];
  }
  return picks;
}

TEST(HealthLbTest, EveryPolicySkipsUnhealthyHosts) {
  auto hosts = testing::EqualHostSet(4);
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kRandom,
                          LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    ClusterConfig config;
    config.lb_policy = policy;
    config.maglev.table_size = 307;
    auto picks = Picks(config, hosts, {0, kFailedActiveHc, 0, kFailedOutlierCheck});
    EXPECT_EQ(picks.count(1), 0u) << static_cast<int>(policy);
    EXPECT_EQ(picks.count(3), 0u) << static_cast<int>(policy);
    EXPECT_GT(picks[0], 0);
    EXPECT_GT(picks[2], 0);
  }
}

TEST(HealthLbTest, FailsOverToTheNextPriority) {
  auto hosts = HostSet::Create({testing::TestHost(0, 1, 0), testing::TestHost(1, 1, 1)});
  ClusterConfig config;
  auto picks = Picks(config, hosts, {kFailedActiveHc, 0});
  EXPECT_EQ(picks, (std::map<int, int>{{1, 2000}}));
  // Healthy again: all back on P0.
  picks = Picks(config, hosts, {});
  EXPECT_EQ(picks, (std::map<int, int>{{0, 2000}}));
}

TEST(HealthLbTest, SplitsByPriorityLoad) {
  // P0: 1 of 2 healthy -> 70% on host 0, 30% on P1's host 2.
  auto hosts = HostSet::Create(
      {testing::TestHost(0, 1, 0), testing::TestHost(1, 1, 0), testing::TestHost(2, 1, 1)});
  ClusterConfig config;
  auto picks = Picks(config, hosts, {0, kFailedActiveHc, 0}, 10000);
  EXPECT_EQ(picks.count(1), 0u);
  EXPECT_NEAR(picks[0], 7000, 300);
  EXPECT_NEAR(picks[2], 3000, 300);
}

TEST(HealthLbTest, PanicBalancesOverAllHosts) {
  auto hosts = testing::EqualHostSet(3);
  ClusterConfig config;
  auto shared = BuildLbSharedState(config, *hosts, {kFailedActiveHc, kFailedActiveHc, 0});
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE((*shared)->any_panic);  // 33% healthy < 50%
  EXPECT_TRUE((*shared)->panic_by_priority[0]);
  EXPECT_EQ((*shared)->healthy_hosts, 1u);
  auto picks = Picks(config, hosts, {kFailedActiveHc, kFailedActiveHc, 0});
  EXPECT_EQ(picks.size(), 3u);

  // Panic disabled (threshold 0): only the healthy host.
  config.healthy_panic_threshold = 0;
  picks = Picks(config, hosts, {kFailedActiveHc, kFailedActiveHc, 0});
  EXPECT_EQ(picks, (std::map<int, int>{{2, 2000}}));
  // ... and with no healthy host at all, no host.
  picks = Picks(config, hosts, {kFailedActiveHc, kFailedActiveHc, kFailedActiveHc});
  EXPECT_EQ(picks, (std::map<int, int>{{-1, 2000}}));
}

TEST(HealthLbTest, LeastRequestCountsFollowTheHostAcrossLevels) {
  auto hosts = HostSet::Create({testing::TestHost(0, 1, 0), testing::TestHost(1, 1, 0),
                                testing::TestHost(2, 1, 1), testing::TestHost(3, 1, 1)});
  ClusterConfig config;
  config.lb_policy = LbPolicy::kLeastRequest;
  FastRandom random(3);
  auto shared = BuildLbSharedState(config, *hosts, {0, kFailedActiveHc, 0, 0});
  ASSERT_TRUE(shared.ok());
  ASSERT_EQ((*shared)->levels.size(), 2u);
  auto lb = CreateLoadBalancer(config, hosts, *shared, random);
  ASSERT_TRUE(lb.ok());
  // Starting and ending requests on any host, including one in no level, is safe.
  for (int h = -1; h < 5; ++h) {
    (*lb)->OnRequestStart(h);
    (*lb)->OnRequestEnd(h);
  }
  EXPECT_NE((*lb)->ChooseHost({}), 1);
}

}  // namespace
}  // namespace weft::upstream
