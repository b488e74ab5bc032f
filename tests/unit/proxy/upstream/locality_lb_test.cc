#include "proxy/upstream/locality_lb.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

// `per_zone[z]` hosts in zone "z<z>" with locality weight `weights[z]` (0 = unset).
std::shared_ptr<const HostSet> ZonedHostSet(const std::vector<int>& per_zone,
                                            const std::vector<uint32_t>& weights) {
  std::vector<HostConstSharedPtr> hosts;
  int i = 0;
  for (size_t z = 0; z < per_zone.size(); ++z) {
    for (int h = 0; h < per_zone[z]; ++h, ++i) {
      auto address = ParseIpAddress("10.1.0." + std::to_string(i), 80);
      hosts.push_back(MakeHost(reinterpret_cast<const sockaddr*>(&*address),
                               SockaddrLength(*address), "", 1,
                               Locality{"r", "z" + std::to_string(z), ""}, 0, weights[z]));
    }
  }
  return HostSet::Create(std::move(hosts));
}

std::unique_ptr<LoadBalancer> Create(const ClusterConfig& config,
                                     const std::shared_ptr<const HostSet>& hosts, Random& random) {
  auto shared = BuildLbSharedState(config, *hosts);
  EXPECT_TRUE(shared.ok()) << shared.status();
  auto lb = CreateLoadBalancer(config, hosts, *shared, random);
  EXPECT_TRUE(lb.ok()) << lb.status();
  return lb.ok() ? std::move(*lb) : nullptr;
}

std::string ZoneOf(const HostSet& hosts, int index) {
  return hosts.hosts()[static_cast<size_t>(index)]->locality.zone;
}

TEST(LocalityWeightedTest, LocalitiesGetTrafficInProportionToTheirWeights) {
  // 3 hosts weighted 80 and 1 host weighted 20: without locality weighting the lone host would
  // get 1/4; with it, 1/5.
  auto hosts = ZonedHostSet({3, 1}, {80, 20});
  FastRandom random(3);
  for (LbPolicy policy :
       {LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kRandom, LbPolicy::kPeakEwma}) {
    ClusterConfig config;
    config.lb_policy = policy;
    config.locality_weighted_lb = true;
    auto lb = Create(config, hosts, random);
    ASSERT_NE(lb, nullptr);
    std::map<std::string, int> zones;
    std::map<int, int> per_host;
    for (int i = 0; i < 1000; ++i) {
      int host = lb->ChooseHost({});
      ASSERT_GE(host, 0);
      ++zones[ZoneOf(*hosts, host)];
      ++per_host[host];
      lb->OnRequestStart(host);
      lb->OnRequestEnd(host);
    }
    // EDF is exact over every window of 5 picks.
    EXPECT_EQ(zones["z0"], 800) << static_cast<int>(policy);
    EXPECT_EQ(zones["z1"], 200) << static_cast<int>(policy);
    if (policy == LbPolicy::kRoundRobin) {
      // Within z0, round robin spreads evenly (800 / 3).
      for (int h = 0; h < 3; ++h) EXPECT_NEAR(per_host[h], 267, 1);
    }
  }
}

TEST(LocalityWeightedTest, ALocalityWithoutWeightGetsNoTraffic) {
  auto hosts = ZonedHostSet({2, 2}, {5, 0});
  FastRandom random(3);
  ClusterConfig config;
  config.locality_weighted_lb = true;
  auto lb = Create(config, hosts, random);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ZoneOf(*hosts, lb->ChooseHost({})), "z0");

  // No weight at all: no host, as Envoy does.
  auto unweighted = ZonedHostSet({2}, {0});
  auto none = Create(config, unweighted, random);
  EXPECT_EQ(none->ChooseHost({}), -1);
}

TEST(LocalityWeightedTest, BookkeepingReachesTheLocalitysBalancer) {
  // Peak EWMA inside the locality (its two choices are distinct, so with two hosts the cheaper
  // always wins): what the wrapper is told about host 1 must reach z1's balancer.
  auto hosts = ZonedHostSet({1, 2}, {1, 1});  // host 0 in z0; hosts 1 and 2 in z1
  FastRandom random(5);
  ClusterConfig config;
  config.lb_policy = LbPolicy::kPeakEwma;
  config.locality_weighted_lb = true;
  auto lb = Create(config, hosts, random);
  for (int i = 0; i < 5; ++i) lb->OnRequestStart(1);
  for (int i = 0; i < 20; ++i) {
    int host = lb->ChooseHost({});
    if (ZoneOf(*hosts, host) == "z1") EXPECT_EQ(host, 2);
  }
  for (int i = 0; i < 5; ++i) lb->OnRequestEnd(1);
  lb->OnResponseLatency(2, std::chrono::seconds(1));  // now host 2 is the slow one
  for (int i = 0; i < 20; ++i) {
    int host = lb->ChooseHost({});
    if (ZoneOf(*hosts, host) == "z1") EXPECT_EQ(host, 1);
  }
  lb->OnRequestStart(99);  // out of range: ignored
}

TEST(LocalityWeightedTest, HashPoliciesAreRefused) {
  auto hosts = ZonedHostSet({1}, {1});
  ClusterConfig config;
  config.locality_weighted_lb = true;
  config.lb_policy = LbPolicy::kRingHash;
  EXPECT_FALSE(BuildLbSharedState(config, *hosts).ok());
  config.lb_policy = LbPolicy::kMaglev;
  EXPECT_FALSE(BuildLbSharedState(config, *hosts).ok());
}

}  // namespace
}  // namespace weft::upstream
