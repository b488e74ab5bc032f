#include "control/mesh/workload_registry.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>

namespace weft::control::mesh {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

json ReviewsServiceEntry() {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", "ServiceEntry"},
          {"metadata", {{"namespace", "default"}, {"name", "reviews"}}},
          {"spec",
           {{"hosts", {"reviews"}},
            {"location", "MESH_INTERNAL"},
            {"resolution", "STATIC"},
            {"ports", {{{"number", 9080}, {"name", "http"}, {"protocol", "HTTP"}}}},
            {"workloadSelector", {{"labels", {{"app", "reviews"}}}}}}}};
}

NodeIdentity Reviews(const std::string& id, const std::string& ip, const std::string& version) {
  NodeIdentity node;
  node.node_id = id;
  node.ip = ip;
  node.labels = {{"app", "reviews"}, {"version", version}};
  node.pod_ports = {{"http", 19080, "TCP"}};
  return node;
}

class WorkloadRegistryTest : public ::testing::Test {
 protected:
  // The endpoints of the reviews service once the registered workloads are added.
  std::vector<translate::Endpoint> Endpoints(const std::vector<json>& extra = {}) {
    std::vector<json> resources = {ReviewsServiceEntry()};
    resources.insert(resources.end(), extra.begin(), extra.end());
    translate::Registry r = translate::BuildRegistry(resources);
    registry_.AddTo(r);
    return r.services.at(0).endpoints;
  }
  void RunFor(milliseconds d) {
    auto timer = dispatcher_.CreateTimer([this] { dispatcher_.Exit(); });
    timer->Enable(d);
    dispatcher_.Run();
  }

  event::Dispatcher dispatcher_;
  int changes_ = 0;
  WorkloadRegistry registry_{dispatcher_, milliseconds(100), [this] { ++changes_; }};
};

TEST_F(WorkloadRegistryTest, RegisteredWorkloadIsAnEndpointOfSelectingServices) {
  EXPECT_TRUE(registry_.Register(Reviews("r1", "127.0.0.5", "v1")));
  NodeIdentity other = Reviews("ratings", "127.0.0.7", "v1");
  other.labels = {{"app", "ratings"}};
  EXPECT_TRUE(registry_.Register(other));

  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);  // ratings is not selected
  EXPECT_EQ(endpoints[0].address, "127.0.0.5");
  EXPECT_EQ(endpoints[0].ports.at("http"), 19080u);
  EXPECT_EQ(endpoints[0].labels.at("version"), "v1");
  EXPECT_EQ(endpoints[0].name, "Proxy/default/r1");

  // Its proxy gets an inbound port where peers reach it: the POD_PORTS port named like the
  // service port, to the application on the same port.
  translate::Registry r = translate::BuildRegistry({ReviewsServiceEntry()});
  registry_.AddTo(r);
  auto ports = registry_.InboundPorts("r1", r);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].number, 19080u);
  EXPECT_EQ(ports[0].target_port, 19080u);
  EXPECT_EQ(ports[0].protocol, "HTTP");
  EXPECT_TRUE(registry_.InboundPorts("ratings", r).empty());
  EXPECT_TRUE(registry_.InboundPorts("unknown", r).empty());
}

TEST_F(WorkloadRegistryTest, WithoutANamedPodPortTheServicePortIsUsed) {
  NodeIdentity node = Reviews("r1", "127.0.0.5", "v1");
  node.pod_ports.clear();
  registry_.Register(node);
  translate::Registry r = translate::BuildRegistry({ReviewsServiceEntry()});
  registry_.AddTo(r);
  auto ports = registry_.InboundPorts("r1", r);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].number, 9080u);
}

TEST_F(WorkloadRegistryTest, NodeWithoutAddressDoesNotRegister) {
  NodeIdentity node = Reviews("r1", "", "v1");
  EXPECT_FALSE(registry_.Register(node));
  EXPECT_TRUE(registry_.List().empty());
  EXPECT_TRUE(Endpoints().empty());
}

TEST_F(WorkloadRegistryTest, DisconnectedWorkloadLeavesAfterTheGrace) {
  registry_.Register(Reviews("r1", "127.0.0.5", "v1"));
  registry_.Register(Reviews("r2", "127.0.0.6", "v2"));
  registry_.MarkDisconnected("r2");
  // Within the grace period it is still an endpoint, shown as disconnected.
  EXPECT_EQ(Endpoints().size(), 2u);
  auto listed = registry_.List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0].connected);
  EXPECT_FALSE(listed[1].connected);
  EXPECT_NE(listed[1].disconnected_at, std::chrono::system_clock::time_point{});
  EXPECT_EQ(changes_, 0);

  RunFor(milliseconds(300));
  auto endpoints = Endpoints();
  ASSERT_EQ(endpoints.size(), 1u);
  EXPECT_EQ(endpoints[0].address, "127.0.0.5");
  EXPECT_EQ(registry_.List().size(), 1u);
  EXPECT_EQ(changes_, 1);
}

TEST_F(WorkloadRegistryTest, ReconnectWithinTheGraceCancelsTheRemoval) {
  registry_.Register(Reviews("r1", "127.0.0.5", "v1"));
  registry_.MarkDisconnected("r1");
  RunFor(milliseconds(30));
  registry_.Register(Reviews("r1", "127.0.0.5", "v1"));
  RunFor(milliseconds(300));
  EXPECT_EQ(Endpoints().size(), 1u);
  EXPECT_EQ(changes_, 0);
  ASSERT_EQ(registry_.List().size(), 1u);
  EXPECT_TRUE(registry_.List()[0].connected);

  // A later disconnect starts a fresh grace period and ends it.
  registry_.MarkDisconnected("r1");
  RunFor(milliseconds(300));
  EXPECT_TRUE(Endpoints().empty());
  EXPECT_EQ(changes_, 1);
}

TEST_F(WorkloadRegistryTest, WorkloadGroupTemplateFillsWhatTheNodeDoesNotSay) {
  json group = {{"apiVersion", "networking.istio.io/v1"},
                {"kind", "WorkloadGroup"},
                {"metadata", {{"namespace", "default"}, {"name", "reviews"}}},
                {"spec",
                 {{"metadata", {{"labels", {{"app", "reviews"}, {"tier", "backend"}}}}},
                  {"template",
                   {{"labels", {{"version", "template"}, {"tier", "template"}}},
                    {"ports", {{"http", 29080}, {"metrics", 15090}}},
                    {"serviceAccount", "reviews-sa"}}}}}};
  NodeIdentity node;
  node.node_id = "vm-1";
  node.ip = "127.0.0.9";
  node.auto_register_group = "reviews";
  node.labels = {{"version", "v3"}};  // the node's own label wins over the template's
  node.pod_ports = {{"metrics", 9102, "TCP"}};
  ASSERT_TRUE(registry_.Register(node));
  ASSERT_EQ(registry_.List().at(0).name, "reviews-127.0.0.9");  // Istio's "<group>-<ip>"

  auto endpoints = Endpoints({group});
  ASSERT_EQ(endpoints.size(), 1u);  // app=reviews comes from the group's metadata labels
  const translate::Endpoint& e = endpoints[0];
  EXPECT_EQ(e.address, "127.0.0.9");
  EXPECT_EQ(e.labels.at("version"), "v3");
  EXPECT_EQ(e.labels.at("tier"), "backend");  // group metadata over template
  EXPECT_EQ(e.ports.at("http"), 29080u);      // template
  EXPECT_EQ(e.ports.at("metrics"), 9102u);    // node over template
  EXPECT_EQ(e.service_account, "reviews-sa");

  // Without the group in the store the node's values alone count (app label missing).
  EXPECT_TRUE(Endpoints().empty());
}

TEST_F(WorkloadRegistryTest, SavedRegistrationsOutliveARestartForTheGrace) {
  char tmpl[] = "/tmp/weft-registry-test-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/registrations.json";
  {
    WorkloadRegistry before(
        dispatcher_, milliseconds(100), [] {}, path);
    ASSERT_TRUE(before.Restore().ok());  // no file yet: empty
    NodeIdentity node = Reviews("r1", "127.0.0.5", "v1");
    node.service_account = "bookinfo-reviews";
    before.Register(node);
    RunFor(milliseconds(20));  // the save runs on the loop
  }
  // A restarted weftd: the workload is back, disconnected, and serves until the grace ends.
  int changes = 0;
  WorkloadRegistry after(
      dispatcher_, milliseconds(100), [&] { ++changes; }, path);
  ASSERT_TRUE(after.Restore().ok());
  auto listed = after.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].connected);
  EXPECT_EQ(listed[0].endpoint.address, "127.0.0.5");
  EXPECT_EQ(listed[0].endpoint.ports.at("http"), 19080u);
  EXPECT_EQ(listed[0].endpoint.labels.at("version"), "v1");
  EXPECT_EQ(listed[0].endpoint.service_account, "bookinfo-reviews");
  // Its proxy reconnecting keeps it; one that does not leaves after the grace.
  NodeIdentity other = Reviews("r2", "127.0.0.6", "v2");
  after.Register(other);
  after.MarkDisconnected("r2");
  after.Register(Reviews("r1", "127.0.0.5", "v1"));
  RunFor(milliseconds(300));
  ASSERT_EQ(after.List().size(), 1u);
  EXPECT_EQ(after.List()[0].node_id, "r1");
  EXPECT_EQ(changes, 1);

  // A file that is not ours is refused with its name.
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs("[1,2]", f);
    std::fclose(f);
  }
  WorkloadRegistry broken(
      dispatcher_, milliseconds(100), [] {}, path);
  auto st = broken.Restore();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weft::control::mesh
