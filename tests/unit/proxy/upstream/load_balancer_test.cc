#include "proxy/upstream/load_balancer.h"

#include "gtest/gtest.h"
#include "proxy/upstream/hash.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

TEST(CreateLoadBalancerTest, BuildsEveryPolicyAndEachChoosesAHost) {
  auto hosts = testing::EqualHostSet(3);
  FastRandom random(9);
  for (LbPolicy policy : {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kRandom,
                          LbPolicy::kRingHash, LbPolicy::kMaglev}) {
    ClusterConfig config;
    config.lb_policy = policy;
    auto shared = BuildLbSharedState(config, *hosts);
    ASSERT_TRUE(shared.ok()) << shared.status();
    auto lb = CreateLoadBalancer(config, hosts, *shared, random);
    ASSERT_TRUE(lb.ok()) << lb.status();
    int host = (*lb)->ChooseHost(LbContext{HashKey("x")});
    EXPECT_GE(host, 0);
    EXPECT_LT(host, 3);
  }
}

TEST(CreateLoadBalancerTest, RefusesWhatItCannotBuild) {
  auto hosts = testing::EqualHostSet(3);
  FastRandom random(9);
  ClusterConfig config;
  config.lb_policy = LbPolicy::kClusterProvided;
  EXPECT_FALSE(CreateLoadBalancer(config, hosts, nullptr, random).ok());

  config.lb_policy = LbPolicy::kRingHash;  // shared state missing
  EXPECT_FALSE(CreateLoadBalancer(config, hosts, nullptr, random).ok());

  config.lb_policy = LbPolicy::kMaglev;
  config.maglev.table_size = 1000;
  EXPECT_FALSE(BuildLbSharedState(config, *hosts).ok());
}

TEST(HashKeyTest, IsStableAndSeeded) {
  // Pinned values: the hash is part of the wire behaviour across proxies and releases.
  EXPECT_EQ(HashKey("abc"), 3741276987793851837ULL);
  EXPECT_EQ(HashKey("abc", 1), 1139830242715181648ULL);
  EXPECT_NE(HashKey("abc"), HashKey("abd"));
  EXPECT_NE(HashKey("abc", 0), HashKey("abc", 1));
}

}  // namespace
}  // namespace weft::upstream
