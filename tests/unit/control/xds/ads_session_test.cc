// The snapshot cache and the ADS protocol logic without gRPC: versions, nonces, ACK/NACK
// bookkeeping, pushes only on change, warming order, Delta's subscribe/unsubscribe and removals.
#include "control/xds/ads_session.h"

#include <google/protobuf/any.pb.h>
#include <gtest/gtest.h>

#include "control/xds/snapshot_cache.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"

namespace weft::control::xds {
namespace {

std::string ClusterAny(const std::string& name, int connect_timeout_s = 1) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.mutable_connect_timeout()->set_seconds(connect_timeout_s);
  google::protobuf::Any any;
  any.PackFrom(c);
  return any.SerializeAsString();
}

std::string EndpointsAny(const std::string& cluster, int port) {
  envoy::config::endpoint::v3::ClusterLoadAssignment cla;
  cla.set_cluster_name(cluster);
  auto* sa = cla.add_endpoints()
                 ->add_lb_endpoints()
                 ->mutable_endpoint()
                 ->mutable_address()
                 ->mutable_socket_address();
  sa->set_address("127.0.0.1");
  sa->set_port_value(port);
  google::protobuf::Any any;
  any.PackFrom(cla);
  return any.SerializeAsString();
}

std::string ListenerAny(const std::string& name) {
  envoy::config::listener::v3::Listener l;
  l.set_name(name);
  google::protobuf::Any any;
  any.PackFrom(l);
  return any.SerializeAsString();
}

discovery::DiscoveryRequest Sotw(const std::string& type, const std::string& version = "",
                                 const std::string& nonce = "",
                                 std::vector<std::string> names = {}) {
  discovery::DiscoveryRequest r;
  r.mutable_node()->set_id("node-a");
  r.set_type_url(type);
  r.set_version_info(version);
  r.set_response_nonce(nonce);
  for (auto& n : names) r.add_resource_names(n);
  return r;
}

std::vector<std::string> Names(const discovery::DiscoveryResponse& r) {
  std::vector<std::string> out;
  for (const auto& any : r.resources()) {
    envoy::config::cluster::v3::Cluster c;
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    if (any.UnpackTo(&c))
      out.push_back(c.name());
    else if (any.UnpackTo(&cla))
      out.push_back(cla.cluster_name());
  }
  return out;
}

TEST(SnapshotCacheTest, VersionFollowsContentAndWatchersHearOnlyChangedTypes) {
  SnapshotCache cache;
  std::vector<std::vector<std::string>> heard_a, heard_b;
  cache.Watch("a", [&](const auto& types) { heard_a.push_back(types); });
  cache.Watch("b", [&](const auto& types) { heard_b.push_back(types); });

  Snapshot s;
  s[kListenerType].resources["l"] = ListenerAny("l");
  s[kClusterType].resources["c"] = ClusterAny("c");
  s[kEndpointType].resources["c"] = EndpointsAny("c", 1);
  cache.SetSnapshot("a", s);
  ASSERT_EQ(heard_a.size(), 1u);
  // Warming order: CDS, EDS, LDS.
  EXPECT_EQ(heard_a[0], (std::vector<std::string>{kClusterType, kEndpointType, kListenerType}));
  EXPECT_TRUE(heard_b.empty()) << "node b's view did not change";
  const std::string v1 = cache.GetSnapshot("a")->at(kEndpointType).version;

  cache.SetSnapshot("a", s);  // same content: nobody is woken, same version
  EXPECT_EQ(heard_a.size(), 1u);
  EXPECT_EQ(cache.GetSnapshot("a")->at(kEndpointType).version, v1);

  s[kEndpointType].resources["c"] = EndpointsAny("c", 2);
  cache.SetSnapshot("a", s);
  ASSERT_EQ(heard_a.size(), 2u);
  EXPECT_EQ(heard_a[1], std::vector<std::string>{kEndpointType});
  EXPECT_NE(cache.GetSnapshot("a")->at(kEndpointType).version, v1);
  EXPECT_EQ(cache.GetSnapshot("b"), nullptr);
}

TEST(SnapshotCacheTest, DefaultSnapshotServesNodesWithoutTheirOwn) {
  SnapshotCache cache;
  int heard_a = 0, heard_b = 0;
  cache.Watch("a", [&](const auto&) { ++heard_a; });
  cache.Watch("b", [&](const auto&) { ++heard_b; });
  cache.SetSnapshot("a", Snapshot{{kClusterType, {"v-a", {{"x", ClusterAny("x")}}}}});
  cache.SetDefaultSnapshot(Snapshot{{kClusterType, {"", {{"y", ClusterAny("y")}}}}});
  EXPECT_EQ(heard_a, 1);
  EXPECT_EQ(heard_b, 1);
  EXPECT_EQ(cache.GetSnapshot("b")->at(kClusterType).resources.count("y"), 1u);
  EXPECT_EQ(cache.GetSnapshot("a")->at(kClusterType).version, "v-a");
}

TEST(SotwSessionTest, NoncesAcksNacksAndPushesOnlyOnChange) {
  SnapshotCache cache;
  cache.SetSnapshot("node-a", Snapshot{{kClusterType, {"1", {{"c1", ClusterAny("c1")}}}}});
  SotwSession session(cache, "node-a");

  auto first = session.OnRequest(Sotw(kClusterType));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].version_info(), "1");
  EXPECT_EQ(Names(first[0]), std::vector<std::string>{"c1"});
  const std::string nonce1 = first[0].nonce();
  EXPECT_FALSE(nonce1.empty());

  // ACK: recorded, nothing sent.
  EXPECT_TRUE(session.OnRequest(Sotw(kClusterType, "1", nonce1)).empty());
  EXPECT_EQ(cache.Status("node-a")->types.at(kClusterType).acked_version, "1");

  // A new version is pushed with a new nonce.
  cache.SetSnapshot(
      "node-a",
      Snapshot{{kClusterType, {"2", {{"c1", ClusterAny("c1")}, {"c2", ClusterAny("c2")}}}}});
  auto pushed = session.OnSnapshotChanged({kClusterType});
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].version_info(), "2");
  EXPECT_NE(pushed[0].nonce(), nonce1);
  EXPECT_EQ(Names(pushed[0]), (std::vector<std::string>{"c1", "c2"}));

  // A late ACK of the old nonce is stale: ignored, the acked version stays "1".
  EXPECT_TRUE(session.OnRequest(Sotw(kClusterType, "1", nonce1)).empty());
  EXPECT_EQ(cache.Status("node-a")->types.at(kClusterType).acked_version, "1");

  // NACK of version 2: the error is kept; the last good version stays "1"; nothing resent.
  auto nack = Sotw(kClusterType, "1", pushed[0].nonce());
  nack.mutable_error_detail()->set_message("clusters[1].foo: not supported");
  EXPECT_TRUE(session.OnRequest(nack).empty());
  TypeStatus st = cache.Status("node-a")->types.at(kClusterType);
  EXPECT_EQ(st.acked_version, "1");
  EXPECT_EQ(st.nack_version, "2");
  EXPECT_EQ(st.nack_error, "clusters[1].foo: not supported");
  EXPECT_EQ(st.nacks, 1u);

  // A fixed version 3 is pushed and ACKed: the NACK is cleared.
  cache.SetSnapshot("node-a", Snapshot{{kClusterType, {"3", {{"c1", ClusterAny("c1")}}}}});
  pushed = session.OnSnapshotChanged({kClusterType});
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_TRUE(session.OnRequest(Sotw(kClusterType, "3", pushed[0].nonce())).empty());
  st = cache.Status("node-a")->types.at(kClusterType);
  EXPECT_EQ(st.acked_version, "3");
  EXPECT_TRUE(st.nack_error.empty());
}

TEST(SotwSessionTest, NamedSubscriptionsSeeOnlyTheirResources) {
  SnapshotCache cache;
  Snapshot s{{kEndpointType, {"", {{"a", EndpointsAny("a", 1)}, {"b", EndpointsAny("b", 1)}}}}};
  cache.SetSnapshot("node-a", s);
  SotwSession session(cache, "node-a");
  // EDS is not a wildcard type: no names, nothing sent.
  EXPECT_TRUE(session.OnRequest(Sotw(kEndpointType)).empty());
  auto r = session.OnRequest(Sotw(kEndpointType, "", "", {"a"}));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(Names(r[0]), std::vector<std::string>{"a"});
  session.OnRequest(Sotw(kEndpointType, r[0].version_info(), r[0].nonce(), {"a"}));
  // b changes: the stream that only watches a is not pushed to.
  s[kEndpointType].resources["b"] = EndpointsAny("b", 2);
  cache.SetSnapshot("node-a", s);
  EXPECT_TRUE(session.OnSnapshotChanged({kEndpointType}).empty());
  // a changes: pushed.
  s[kEndpointType].resources["a"] = EndpointsAny("a", 2);
  cache.SetSnapshot("node-a", s);
  EXPECT_EQ(session.OnSnapshotChanged({kEndpointType}).size(), 1u);
}

// A proxyless gRPC client asks LDS (a wildcard type) for exactly the listener it dials: it gets
// that one, not the snapshot's others.
TEST(SotwSessionTest, NamedListenerSubscriptionIsNotAWildcard) {
  SnapshotCache cache;
  Snapshot s{{kListenerType,
              {"",
               {{"reviews:9080", ListenerAny("reviews:9080")},
                {"ratings:9080", ListenerAny("ratings:9080")}}}}};
  cache.SetSnapshot("node-a", s);
  SotwSession session(cache, "node-a");
  auto r = session.OnRequest(Sotw(kListenerType, "", "", {"reviews:9080"}));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  envoy::config::listener::v3::Listener l;
  ASSERT_TRUE(r[0].resources(0).UnpackTo(&l));
  EXPECT_EQ(l.name(), "reviews:9080");
  // A name the snapshot lacks is answered with nothing (the client reports it does not exist).
  SotwSession other(cache, "node-a");
  auto none = other.OnRequest(Sotw(kListenerType, "", "", {"details:9080"}));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].resources_size(), 0);
}

TEST(SotwSessionTest, EndpointPushesCarryOnlyTheChangedAssignments) {
  SnapshotCache cache;
  Snapshot s{{kEndpointType, {"", {{"a", EndpointsAny("a", 1)}, {"b", EndpointsAny("b", 1)}}}},
             {kClusterType, {"", {{"a", ClusterAny("a")}, {"b", ClusterAny("b")}}}}};
  cache.SetSnapshot("node-a", s);
  SotwSession session(cache, "node-a");
  auto r = session.OnRequest(Sotw(kEndpointType, "", "", {"a", "b"}));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(Names(r[0]), (std::vector<std::string>{"a", "b"}));  // the first answer: all
  auto c = session.OnRequest(Sotw(kClusterType));
  ASSERT_EQ(c.size(), 1u);

  // One assignment changes: EDS pushes it alone (omission removes nothing in EDS).
  s[kEndpointType].resources["b"] = EndpointsAny("b", 2);
  s[kClusterType].resources["b"] = ClusterAny("b", 2);
  cache.SetSnapshot("node-a", s);
  auto pushed = session.OnSnapshotChanged({kClusterType, kEndpointType});
  ASSERT_EQ(pushed.size(), 2u);
  // CDS is a wildcard type: its responses always carry every cluster.
  EXPECT_EQ(Names(pushed[0]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(pushed[1]), std::vector<std::string>{"b"});
  EXPECT_EQ(pushed[1].version_info(), cache.GetSnapshot("node-a")->at(kEndpointType).version);

  // Resubscribing to what left the subscription sends it again.
  r = session.OnRequest(Sotw(kEndpointType, pushed[1].version_info(), pushed[1].nonce(), {"a"}));
  EXPECT_TRUE(r.empty() || Names(r[0]).empty());
  r = session.OnRequest(
      Sotw(kEndpointType, "", r.empty() ? pushed[1].nonce() : r[0].nonce(), {"a", "b"}));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(Names(r[0]), std::vector<std::string>{"b"});
}

TEST(SotwSessionTest, FirstRequestWaitsForASnapshot) {
  SnapshotCache cache;
  SotwSession session(cache, "node-a");
  EXPECT_TRUE(session.OnRequest(Sotw(kListenerType)).empty());
  cache.SetSnapshot("node-a", Snapshot{{kListenerType, {"", {{"l", ListenerAny("l")}}}}});
  EXPECT_EQ(session.OnSnapshotChanged({kListenerType}).size(), 1u);
}

discovery::DeltaDiscoveryRequest Delta(const std::string& type, std::vector<std::string> sub = {},
                                       std::vector<std::string> unsub = {},
                                       const std::string& nonce = "") {
  discovery::DeltaDiscoveryRequest r;
  r.mutable_node()->set_id("node-a");
  r.set_type_url(type);
  for (auto& n : sub) r.add_resource_names_subscribe(n);
  for (auto& n : unsub) r.add_resource_names_unsubscribe(n);
  r.set_response_nonce(nonce);
  return r;
}

TEST(DeltaSessionTest, SendsOnlyChangesAndRemovals) {
  SnapshotCache cache;
  Snapshot s{{kClusterType, {"", {{"a", ClusterAny("a")}, {"b", ClusterAny("b")}}}}};
  cache.SetSnapshot("node-a", s);
  DeltaSession session(cache, "node-a");
  auto r = session.OnRequest(Delta(kClusterType));  // wildcard
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].resources_size(), 2);
  session.OnRequest(Delta(kClusterType, {}, {}, r[0].nonce()));
  EXPECT_EQ(cache.Status("node-a")->types.at(kClusterType).acked_version,
            r[0].system_version_info());

  // b changes, a is removed, c is added: only b and c are sent; a is removed.
  s[kClusterType].resources.erase("a");
  s[kClusterType].resources["b"] = ClusterAny("b", 2);
  s[kClusterType].resources["c"] = ClusterAny("c");
  cache.SetSnapshot("node-a", s);
  r = session.OnSnapshotChanged({kClusterType});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 2);
  EXPECT_EQ(r[0].resources(0).name(), "b");
  EXPECT_EQ(r[0].resources(1).name(), "c");
  ASSERT_EQ(r[0].removed_resources_size(), 1);
  EXPECT_EQ(r[0].removed_resources(0), "a");

  // NACK: bookkept with its error.
  auto nack = Delta(kClusterType, {}, {}, r[0].nonce());
  nack.mutable_error_detail()->set_message("bad b");
  EXPECT_TRUE(session.OnRequest(nack).empty());
  EXPECT_EQ(cache.Status("node-a")->types.at(kClusterType).nack_error, "bad b");

  // Same snapshot again: nothing to send.
  EXPECT_TRUE(session.OnSnapshotChanged({kClusterType}).empty());
}

TEST(DeltaSessionTest, SubscribeUnsubscribeAndInitialVersions) {
  SnapshotCache cache;
  Snapshot s{
      {kEndpointType,
       {"",
        {{"a", EndpointsAny("a", 1)}, {"b", EndpointsAny("b", 1)}, {"c", EndpointsAny("c", 1)}}}}};
  cache.SetSnapshot("node-a", s);
  DeltaSession session(cache, "node-a");
  // The client reconnects already holding a's current version: only b is sent.
  auto req = Delta(kEndpointType, {"a", "b"});
  (*req.mutable_initial_resource_versions())["a"] =
      ResourceVersion(s[kEndpointType].resources["a"]);
  auto r = session.OnRequest(req);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  EXPECT_EQ(r[0].resources(0).name(), "b");

  r = session.OnRequest(Delta(kEndpointType, {"c"}, {}, r[0].nonce()));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  EXPECT_EQ(r[0].resources(0).name(), "c");

  // Unsubscribed b: its changes are no longer sent, and no removal is sent for it either.
  EXPECT_TRUE(session.OnRequest(Delta(kEndpointType, {}, {"b"}, r[0].nonce())).empty());
  s[kEndpointType].resources["b"] = EndpointsAny("b", 2);
  cache.SetSnapshot("node-a", s);
  EXPECT_TRUE(session.OnSnapshotChanged({kEndpointType}).empty());
  // c leaves the snapshot: removed.
  s[kEndpointType].resources.erase("c");
  cache.SetSnapshot("node-a", s);
  r = session.OnSnapshotChanged({kEndpointType});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].resources_size(), 0);
  ASSERT_EQ(r[0].removed_resources_size(), 1);
  EXPECT_EQ(r[0].removed_resources(0), "c");
}

// The Delta form of a proxyless client's subscription: named listeners only.
TEST(DeltaSessionTest, NamedListenerSubscriptionIsNotAWildcard) {
  SnapshotCache cache;
  cache.SetSnapshot("node-a", {{kListenerType,
                                {"",
                                 {{"reviews:9080", ListenerAny("reviews:9080")},
                                  {"ratings:9080", ListenerAny("ratings:9080")}}}}});
  DeltaSession session(cache, "node-a");
  auto r = session.OnRequest(Delta(kListenerType, {"reviews:9080"}));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  EXPECT_EQ(r[0].resources(0).name(), "reviews:9080");
}

TEST(DeltaSessionTest, WildcardOffThenOnKeepsWhatTheClientHolds) {
  SnapshotCache cache;
  Snapshot s{{kClusterType, {"", {{"a", ClusterAny("a")}, {"b", ClusterAny("b")}}}}};
  cache.SetSnapshot("node-a", s);
  DeltaSession session(cache, "node-a");
  auto r = session.OnRequest(Delta(kClusterType));  // wildcard
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 2);
  // Wildcard off, `a` named: `b` leaves the client's scope and is reported removed.
  r = session.OnRequest(Delta(kClusterType, {"a"}, {"*"}, r[0].nonce()));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].resources_size(), 0);  // the client already has `a`
  ASSERT_EQ(r[0].removed_resources_size(), 1);
  EXPECT_EQ(r[0].removed_resources(0), "b");
  // Wildcard on again: only `b` is sent.
  r = session.OnRequest(Delta(kClusterType, {"*"}, {}, r[0].nonce()));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  EXPECT_EQ(r[0].resources(0).name(), "b");
  // And later changes are the changed resource alone.
  s[kClusterType].resources["a"] = ClusterAny("a", 2);
  cache.SetSnapshot("node-a", s);
  r = session.OnSnapshotChanged({kClusterType});
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].resources_size(), 1);
  EXPECT_EQ(r[0].resources(0).name(), "a");
}

TEST(SubscriptionTest, EqualNameSetsAreOneObject) {
  NameSet a = InternNames({"x", "y"});
  NameSet b = InternNames({"y", "x"});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(InternNames({"x"}).get(), a.get());
}

// Secrets hold private keys: a session serves them only once its stream authenticated
// (ads_server.h); until then a Secret request is answered, with nothing.
TEST(SotwSessionTest, SecretsOnlyWhenTheStreamAuthenticated) {
  SnapshotCache cache;
  cache.SetSnapshot("node-a",
                    Snapshot{{kSecretType, {"1", {{"kubernetes://cred", ClusterAny("s")}}}},
                             {kClusterType, {"1", {{"c1", ClusterAny("c1")}}}}});
  SotwSession anonymous(cache, "node-a");
  auto none = anonymous.OnRequest(Sotw(kSecretType, "", "", {"kubernetes://cred"}));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].resources_size(), 0);
  EXPECT_EQ(anonymous.OnRequest(Sotw(kClusterType))[0].resources_size(), 1)
      << "every other type is served as before";

  SotwSession authenticated(cache, "node-a");
  authenticated.ServeSecrets(true);
  auto some = authenticated.OnRequest(Sotw(kSecretType, "", "", {"kubernetes://cred"}));
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].resources_size(), 1);
}

TEST(DeltaSessionTest, SecretsOnlyWhenTheStreamAuthenticated) {
  SnapshotCache cache;
  cache.SetSnapshot("node-a",
                    Snapshot{{kSecretType, {"1", {{"kubernetes://cred", ClusterAny("s")}}}}});
  discovery::DeltaDiscoveryRequest request;
  request.mutable_node()->set_id("node-a");
  request.set_type_url(kSecretType);
  request.add_resource_names_subscribe("kubernetes://cred");
  for (bool serve : {false, true}) {
    DeltaSession session(cache, "node-a");
    session.ServeSecrets(serve);
    auto out = session.OnRequest(request);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].resources_size(), serve ? 1 : 0);
  }
}

}  // namespace
}  // namespace weft::control::xds
