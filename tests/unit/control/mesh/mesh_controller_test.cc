#include "control/mesh/mesh_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "control/store/sqlite_store.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"

namespace weft::control::mesh {
namespace {

using nlohmann::json;

json ServiceEntry(int port) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", "ServiceEntry"},
          {"metadata", {{"namespace", "default"}, {"name", "reviews"}}},
          {"spec",
           {{"hosts", {"reviews.default.svc.cluster.local"}},
            {"location", "MESH_INTERNAL"},
            {"resolution", "STATIC"},
            {"ports", {{{"number", port}, {"name", "http"}, {"protocol", "HTTP"}}}},
            {"endpoints", {{{"address", "127.0.0.1"}, {"labels", {{"version", "v1"}}}}}}}}};
}

xds::NodeInfo Node(const std::string& id, const std::string& app = "") {
  xds::NodeInfo node;
  node.id = id;
  if (!app.empty()) node.metadata_json = R"({"LABELS": {"app": ")" + app + R"("}})";
  return node;
}

class MeshControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-mesh-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto store = SqliteStore::Open(dir_ + "/weft.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    controller_ = std::make_unique<MeshController>(dispatcher_, *store_, cache_);
    ASSERT_TRUE(controller_->Start().ok());
  }
  void TearDown() override {
    controller_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Runs what was posted (and what that posts) until the loop is idle.
  void RunPosted(std::chrono::milliseconds for_ms = std::chrono::milliseconds(50)) {
    auto timer = dispatcher_.CreateTimer([this] { dispatcher_.Exit(); });
    timer->Enable(for_ms);
    dispatcher_.Run();
  }
  size_t Count(const std::string& node, const char* type) {
    auto snapshot = cache_.GetSnapshot(node);
    if (!snapshot) return 0;
    auto it = snapshot->find(type);
    return it == snapshot->end() ? 0 : it->second.resources.size();
  }

  std::string dir_;
  event::Dispatcher dispatcher_;
  std::unique_ptr<SqliteStore> store_;
  xds::SnapshotCache cache_;
  std::unique_ptr<MeshController> controller_;
};

TEST_F(MeshControllerTest, ConnectedNodeGetsTheStoreTranslatedAndFollowsWrites) {
  controller_->OnStreamOpened(Node("sidecar~10.0.0.1~app.default~default.svc.cluster.local"));
  RunPosted();
  const std::string node = "sidecar~10.0.0.1~app.default~default.svc.cluster.local";
  ASSERT_NE(cache_.GetSnapshot(node), nullptr);
  EXPECT_EQ(Count(node, xds::kListenerType), 0u);

  ASSERT_TRUE(store_->Create(ServiceEntry(19080)).ok());
  RunPosted();
  EXPECT_EQ(Count(node, xds::kListenerType), 1u);  // 127.0.0.1_19080
  EXPECT_GE(Count(node, xds::kClusterType), 1u);
  EXPECT_GE(Count(node, xds::kEndpointType), 1u);
  EXPECT_EQ(Count(node, xds::kRouteType), 1u);
  EXPECT_EQ(cache_.GetSnapshot(node)->at(xds::kListenerType).resources.count("127.0.0.1_19080"),
            1u);
}

// GENERATOR: grpc in the metadata, or a gRPC library's user agent: the proxyless view, whose
// listeners are named host:port.
TEST_F(MeshControllerTest, GrpcClientsGetTheProxylessView) {
  ASSERT_TRUE(store_->Create(ServiceEntry(9080)).ok());
  xds::NodeInfo istio = Node("sidecar~10.0.0.2~client.default~default.svc.cluster.local");
  istio.metadata_json = R"({"GENERATOR":"grpc"})";
  xds::NodeInfo plain = Node("plain-grpc-client");
  plain.user_agent_name = "gRPC Node Pure JS";
  controller_->OnStreamOpened(istio);
  controller_->OnStreamOpened(plain);
  controller_->OnStreamOpened(Node("sidecar"));
  RunPosted();
  for (const std::string& node : {istio.id, plain.id}) {
    ASSERT_NE(cache_.GetSnapshot(node), nullptr);
    EXPECT_EQ(cache_.GetSnapshot(node)
                  ->at(xds::kListenerType)
                  .resources.count("reviews.default.svc.cluster.local:9080"),
              1u)
        << node;
  }
  EXPECT_EQ(cache_.GetSnapshot("sidecar")->at(xds::kListenerType).resources.count("127.0.0.1_9080"),
            1u);
}

// INTERCEPTION_MODE REDIRECT: Istio's capture layout, with the VIP weftd allocated (and saved),
// and the mesh config's egress policy; a proxy without capture keeps today's layout.
TEST_F(MeshControllerTest, CapturedNodesGetTheCaptureLayoutWithAllocatedVips) {
  controller_.reset();
  const std::string vips_path = dir_ + "/vips.json";
  controller_ = std::make_unique<MeshController>(dispatcher_, *store_, cache_,
                                                 std::chrono::milliseconds(100), "", vips_path);
  translate::MeshConfig mesh;
  mesh.outbound_traffic_policy = translate::MeshConfig::OutboundTrafficPolicy::kRegistryOnly;
  controller_->SetMeshConfig(mesh);
  ASSERT_TRUE(controller_->Start().ok());
  ASSERT_TRUE(store_->Create(ServiceEntry(9080)).ok());
  xds::NodeInfo captured = Node("captured");
  captured.metadata_json = R"({"INTERCEPTION_MODE":"REDIRECT"})";
  controller_->OnStreamOpened(captured);
  controller_->OnStreamOpened(Node("plain"));
  RunPosted();
  ASSERT_EQ(controller_->vips().vips().size(), 1u);
  const std::string vip = controller_->vips().vips().at("reviews.default.svc.cluster.local");
  EXPECT_EQ(vip.rfind("240.240.", 0), 0u) << vip;
  EXPECT_TRUE(std::filesystem::exists(vips_path));
  ASSERT_NE(cache_.GetSnapshot("captured"), nullptr);
  const auto& listeners = cache_.GetSnapshot("captured")->at(xds::kListenerType).resources;
  for (const char* name : {"virtualOutbound", "virtualInbound", "dns", "0.0.0.0_9080"}) {
    EXPECT_EQ(listeners.count(name), 1u) << name;
  }
  // The mesh config reached the translation: REGISTRY_ONLY's catch-all is BlackHoleCluster.
  EXPECT_EQ(listeners.at("virtualOutbound").find("PassthroughCluster"), std::string::npos);
  EXPECT_NE(listeners.at("dns").find(vip), std::string::npos);
  const auto& plain = cache_.GetSnapshot("plain")->at(xds::kListenerType).resources;
  EXPECT_EQ(plain.count("127.0.0.1_9080"), 1u);
  EXPECT_EQ(plain.count("virtualOutbound"), 0u);
  EXPECT_EQ(controller_->views(), 2u);
}

TEST_F(MeshControllerTest, BurstOfWritesIsOneRebuildAndUnconnectedNodesGetNothing) {
  ASSERT_TRUE(store_->Create(ServiceEntry(19080)).ok());
  RunPosted();
  EXPECT_EQ(cache_.GetSnapshot("n1"), nullptr);  // nobody connected: nothing translated
  controller_->OnStreamOpened(Node("n1"));
  RunPosted();
  const size_t before = controller_->rebuilds();
  json vs = {{"apiVersion", "networking.istio.io/v1"},
             {"kind", "VirtualService"},
             {"metadata", {{"namespace", "default"}, {"name", "r"}}},
             {"spec",
              {{"hosts", {"reviews.default.svc.cluster.local"}},
               {"http", {{{"route", {{{"destination", {{"host", "reviews"}}}}}}}}}}}};
  ASSERT_TRUE(store_->Create(vs).ok());
  vs["metadata"]["name"] = "r2";
  ASSERT_TRUE(store_->Create(vs).ok());
  RunPosted();
  EXPECT_EQ(controller_->rebuilds(), before + 1);
}

TEST_F(MeshControllerTest, LastStreamClosedClearsTheNode) {
  ASSERT_TRUE(store_->Create(ServiceEntry(19080)).ok());
  controller_->OnStreamOpened(Node("n1"));
  controller_->OnStreamOpened(Node("n1"));
  RunPosted();
  ASSERT_NE(cache_.GetSnapshot("n1"), nullptr);
  controller_->OnStreamClosed("n1");
  RunPosted();
  EXPECT_NE(cache_.GetSnapshot("n1"), nullptr);  // one stream left
  controller_->OnStreamClosed("n1");
  RunPosted();
  EXPECT_EQ(cache_.GetSnapshot("n1"), nullptr);
}

TEST_F(MeshControllerTest, ConnectingProxiesRegisterAndLeaveAfterTheGrace) {
  controller_ = std::make_unique<MeshController>(dispatcher_, *store_, cache_,
                                                 std::chrono::milliseconds(100));
  ASSERT_TRUE(controller_->Start().ok());
  json se = ServiceEntry(9080);
  se["spec"].erase("endpoints");
  se["spec"]["workloadSelector"] = {{"labels", {{"app", "reviews"}}}};
  ASSERT_TRUE(store_->Create(se).ok());

  xds::NodeInfo reviews = Node("reviews-v1");
  reviews.metadata_json = R"({"LABELS":{"app":"reviews","version":"v1"},
      "INSTANCE_IPS":"127.0.0.5","WEFT_OUTBOUND_ADDRESS":"127.0.0.15",
      "POD_PORTS":"[{\"name\":\"http\",\"containerPort\":19080,\"protocol\":\"TCP\"}]"})";
  xds::NodeInfo productpage = Node("productpage");
  productpage.metadata_json = R"({"WEFT_OUTBOUND_ADDRESS":"127.0.0.3"})";
  controller_->OnStreamOpened(reviews);
  controller_->OnStreamOpened(productpage);
  RunPosted();
  ASSERT_EQ(controller_->workloads().List().size(), 1u);  // productpage has no address

  // reviews' proxy: inbound on its address and pod port, outbound on its own address.
  const auto& listeners = cache_.GetSnapshot("reviews-v1")->at(xds::kListenerType).resources;
  EXPECT_EQ(listeners.count("127.0.0.5_19080"), 1u);
  EXPECT_EQ(listeners.count("127.0.0.15_9080"), 1u);
  // productpage's proxy: outbound on 127.0.0.3, to the registered workload.
  auto endpoints = [&] {
    std::vector<std::string> out;
    const auto& eds = cache_.GetSnapshot("productpage")->at(xds::kEndpointType).resources;
    auto it = eds.find("outbound|9080||reviews.default.svc.cluster.local");
    if (it == eds.end()) return out;
    google::protobuf::Any any;
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    EXPECT_TRUE(any.ParseFromString(it->second) && any.UnpackTo(&cla));
    for (const auto& locality : cla.endpoints()) {
      for (const auto& lb : locality.lb_endpoints()) {
        const auto& sa = lb.endpoint().address().socket_address();
        out.push_back(sa.address() + ":" + std::to_string(sa.port_value()));
      }
    }
    return out;
  };
  EXPECT_EQ(
      cache_.GetSnapshot("productpage")->at(xds::kListenerType).resources.count("127.0.0.3_9080"),
      1u);
  EXPECT_EQ(endpoints(), std::vector<std::string>{"127.0.0.5:19080"});

  // reviews' proxy goes away: it stays an endpoint for the grace, then leaves.
  controller_->OnStreamClosed("reviews-v1");
  RunPosted();
  EXPECT_EQ(endpoints(), std::vector<std::string>{"127.0.0.5:19080"});
  ASSERT_EQ(controller_->workloads().List().size(), 1u);
  EXPECT_FALSE(controller_->workloads().List()[0].connected);
  auto wait = dispatcher_.CreateTimer([this] { dispatcher_.Exit(); });
  wait->Enable(std::chrono::milliseconds(200));
  dispatcher_.Run();
  RunPosted();
  EXPECT_TRUE(endpoints().empty());
  EXPECT_TRUE(controller_->workloads().List().empty());
}

TEST_F(MeshControllerTest, ReplicasShareOneViewAndOneStoredSnapshot) {
  ASSERT_TRUE(store_->Create(ServiceEntry(19080)).ok());
  const std::string a1 = "sidecar~10.0.0.1~a-1.default~default.svc.cluster.local";
  const std::string a2 = "sidecar~10.0.0.2~a-2.default~default.svc.cluster.local";
  const std::string b1 = "sidecar~10.0.0.3~b-1.default~default.svc.cluster.local";
  controller_->OnStreamOpened(Node(a1, "a"));
  controller_->OnStreamOpened(Node(a2, "a"));
  controller_->OnStreamOpened(Node(b1, "b"));
  RunPosted();
  // No selector reads `app` yet: one view, one snapshot object for all three.
  EXPECT_EQ(controller_->views(), 1u);
  ASSERT_NE(cache_.GetSnapshot(a1), nullptr);
  EXPECT_EQ(cache_.GetSnapshot(a1).get(), cache_.GetSnapshot(b1).get());

  // A VirtualService matching sourceLabels app=a splits them: a-1 and a-2 still share.
  json vs = {{"apiVersion", "networking.istio.io/v1"},
             {"kind", "VirtualService"},
             {"metadata", {{"namespace", "default"}, {"name", "r"}}},
             {"spec",
              {{"hosts", {"reviews.default.svc.cluster.local"}},
               {"http",
                {{{"match", {{{"sourceLabels", {{"app", "a"}}}, {"uri", {{"prefix", "/a"}}}}}},
                  {"route", {{{"destination", {{"host", "reviews"}}}}}}},
                 {{"route", {{{"destination", {{"host", "reviews"}}}}}}}}}}}};
  ASSERT_TRUE(store_->Create(vs).ok());
  RunPosted();
  EXPECT_EQ(controller_->views(), 2u);
  EXPECT_EQ(cache_.GetSnapshot(a1).get(), cache_.GetSnapshot(a2).get());
  EXPECT_NE(cache_.GetSnapshot(a1).get(), cache_.GetSnapshot(b1).get());
  EXPECT_NE(cache_.GetSnapshot(a1)->at(xds::kRouteType).version,
            cache_.GetSnapshot(b1)->at(xds::kRouteType).version);

  // A replica connecting later joins its view's snapshot without a rebuild.
  const size_t rebuilds = controller_->rebuilds();
  const std::string a3 = "sidecar~10.0.0.4~a-3.default~default.svc.cluster.local";
  controller_->OnStreamOpened(Node(a3, "a"));
  RunPosted();
  EXPECT_EQ(controller_->rebuilds(), rebuilds);
  EXPECT_EQ(cache_.GetSnapshot(a3).get(), cache_.GetSnapshot(a1).get());
}

TEST_F(MeshControllerTest, DebouncedRebuildWaitsForQuietThenRunsOnce) {
  controller_->SetDebounce(std::chrono::milliseconds(200), std::chrono::seconds(5));
  controller_->OnStreamOpened(Node("n1"));
  RunPosted(std::chrono::milliseconds(400));  // its first rebuild, debounced too
  ASSERT_NE(cache_.GetSnapshot("n1"), nullptr);
  const size_t before = controller_->rebuilds();
  ASSERT_TRUE(store_->Create(ServiceEntry(19080)).ok());
  RunPosted();  // 50 ms: still quiet-waiting
  EXPECT_EQ(controller_->rebuilds(), before);
  EXPECT_EQ(Count("n1", xds::kListenerType), 0u);
  RunPosted(std::chrono::milliseconds(400));
  EXPECT_EQ(controller_->rebuilds(), before + 1);
  EXPECT_EQ(Count("n1", xds::kListenerType), 1u);
}

}  // namespace
}  // namespace weft::control::mesh
