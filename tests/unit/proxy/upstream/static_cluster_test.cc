#include "proxy/upstream/static_cluster.h"

#include "gtest/gtest.h"

namespace weft::upstream {
namespace {

TEST(StaticClusterTest, BuildsHostsFromLiterals) {
  ClusterConfig config;
  config.name = "static";
  config.localities.push_back(
      {"r1", "z1", "", 0, 7, {{"10.0.0.1", 80, 2, "web"}, {"::1", 81, 1, ""}}});
  config.localities.push_back({"r1", "z2", "", 1, 0, {{"10.0.0.3", 82, 1, ""}}});
  auto set = BuildStaticHostSet(config);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)->hosts().size(), 3u);
  EXPECT_EQ((*set)->hosts()[0]->address_string, "10.0.0.1:80");
  EXPECT_EQ((*set)->hosts()[0]->weight, 2u);
  EXPECT_EQ((*set)->hosts()[0]->hostname, "web");
  EXPECT_EQ((*set)->hosts()[0]->locality_weight, 7u);
  EXPECT_EQ((*set)->hosts()[1]->address_string, "[::1]:81");
  EXPECT_EQ((*set)->hosts()[2]->priority, 1u);
  EXPECT_EQ((*set)->primary().hosts.size(), 2u);
}

TEST(StaticClusterTest, RefusesNamesAndMissingPortsNamingTheField) {
  ClusterConfig config;
  config.name = "static";
  config.localities.push_back(
      {"", "", "", 0, 0, {{"10.0.0.1", 80, 1, ""}, {"db.example", 80, 1, ""}}});
  auto set = BuildStaticHostSet(config);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("lb_endpoints[1]"), std::string::npos) << set.status();

  config.localities[0].endpoints = {{"10.0.0.1", 0, 1, ""}};
  EXPECT_FALSE(BuildStaticHostSet(config).ok());
}

}  // namespace
}  // namespace weft::upstream
