#include "proxy/xds/delta_state.h"

#include <gtest/gtest.h>

#include "envoy/config/cluster/v3/cluster.pb.h"

namespace weft::proxy::xds {
namespace {

constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

void AddCluster(discovery::DeltaDiscoveryResponse& response, const std::string& name,
                const std::string& version) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name(name);
  discovery::Resource* r = response.add_resources();
  r->set_name(name);
  r->set_version(version);
  r->mutable_resource()->PackFrom(cluster);
}

std::vector<std::string> Names(const discovery::DiscoveryResponse& full) {
  std::vector<std::string> names;
  for (const auto& any : full.resources()) {
    envoy::config::cluster::v3::Cluster cluster;
    EXPECT_TRUE(any.UnpackTo(&cluster));
    names.push_back(cluster.name());
  }
  return names;
}

discovery::DeltaDiscoveryResponse Response(const std::string& version, const std::string& nonce) {
  discovery::DeltaDiscoveryResponse response;
  response.set_type_url(kClusterType);
  response.set_system_version_info(version);
  response.set_nonce(nonce);
  return response;
}

TEST(DeltaTypeStateTest, MergesChangesAndRemovalsIntoTheFullState) {
  DeltaTypeState state;
  auto first = Response("v1", "1");
  AddCluster(first, "a", "a1");
  AddCluster(first, "b", "b1");
  auto merged = state.Merge(first);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->full.type_url(), kClusterType);
  EXPECT_EQ(merged->full.version_info(), "v1");
  EXPECT_EQ(Names(merged->full), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(state.held().empty()) << "nothing is held before Commit";
  state.Commit(std::move(merged->held));

  // Only what changed arrives: b changes, c is new, a goes away.
  auto second = Response("v2", "2");
  AddCluster(second, "b", "b2");
  AddCluster(second, "c", "c1");
  second.add_removed_resources("a");
  merged = state.Merge(second);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(Names(merged->full), (std::vector<std::string>{"b", "c"}));
  state.Commit(std::move(merged->held));
  EXPECT_EQ(state.Versions(), (std::map<std::string, std::string>{{"b", "b2"}, {"c", "c1"}}));
}

TEST(DeltaTypeStateTest, MergeChangesNothingUntilCommitted) {
  DeltaTypeState state;
  auto first = Response("v1", "1");
  AddCluster(first, "a", "a1");
  state.Commit(state.Merge(first)->held);
  auto second = Response("v2", "2");
  AddCluster(second, "b", "b1");
  second.add_removed_resources("a");
  ASSERT_TRUE(state.Merge(second).ok());
  EXPECT_EQ(state.Versions(), (std::map<std::string, std::string>{{"a", "a1"}}));
  // A response that is not even well-formed is never committed: the next builds on the last.
  auto next = Response("v3", "3");
  AddCluster(next, "d", "d1");
  auto merged = state.Merge(next);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(Names(merged->full), (std::vector<std::string>{"a", "d"}));
}

TEST(DeltaTypeStateTest, ForgetDropsUnsubscribedNames) {
  DeltaTypeState state;
  auto first = Response("v1", "1");
  AddCluster(first, "a", "a1");
  AddCluster(first, "b", "b1");
  state.Commit(state.Merge(first)->held);
  state.Forget({"a", "not-held"});
  EXPECT_EQ(state.Versions(), (std::map<std::string, std::string>{{"b", "b1"}}));
}

TEST(DeltaTypeStateTest, RefusesMalformedResourcesByIndexAndName) {
  DeltaTypeState state;
  auto nameless = Response("v1", "1");
  AddCluster(nameless, "", "v");
  EXPECT_EQ(state.Merge(nameless).status().message(), "resources[0]: name is required");

  auto bodiless = Response("v1", "1");
  AddCluster(bodiless, "a", "a1");
  bodiless.add_resources()->set_name("b");
  EXPECT_EQ(state.Merge(bodiless).status().message(), "resources[1] 'b': resource is required");

  auto wrong_type = Response("v1", "1");
  discovery::Resource* r = wrong_type.add_resources();
  r->set_name("x");
  r->mutable_resource()->set_type_url("type.googleapis.com/other.Thing");
  EXPECT_EQ(state.Merge(wrong_type).status().message(), std::string("resources[0] 'x': not a ") +
                                                            kClusterType +
                                                            " (type.googleapis.com/other.Thing)");
}

}  // namespace
}  // namespace weft::proxy::xds
