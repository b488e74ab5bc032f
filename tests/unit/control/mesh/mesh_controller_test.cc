#include "control/mesh/mesh_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "control/store/sqlite_store.h"

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
