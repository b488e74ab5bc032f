// AdsServer over real gRPC on loopback: a grpc++ client opens SotW and Delta streams, gets the
// snapshot, ACKs, and is pushed only what changes; the server's bookkeeping sees ACKs and NACKs.
#include "control/xds/ads_server.h"

#include <google/protobuf/any.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::control::xds {
namespace {

namespace ads = envoy::service::discovery::v3;

std::string ClusterAny(const std::string& name, int timeout_s) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name(name);
  c.mutable_connect_timeout()->set_seconds(timeout_s);
  google::protobuf::Any any;
  any.PackFrom(c);
  return any.SerializeAsString();
}

class AdsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_.SetSnapshot("n1", Snapshot{{kClusterType, {"v1", {{"a", ClusterAny("a", 1)}}}}});
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_.port()),
                                       grpc::InsecureChannelCredentials());
    stub_ = ads::AggregatedDiscoveryService::NewStub(channel);
  }
  // The deadline bounds every test: a missing response fails instead of hanging.
  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  SnapshotCache cache_;
  AdsServer server_{cache_};
  std::unique_ptr<ads::AggregatedDiscoveryService::Stub> stub_;
};

TEST_F(AdsServerTest, SotwStreamAcksNacksAndPushes) {
  auto context = Context();
  auto stream = stub_->StreamAggregatedResources(context.get());
  ads::DiscoveryRequest request;
  request.mutable_node()->set_id("n1");
  request.set_type_url(kClusterType);
  ASSERT_TRUE(stream->Write(request));
  ads::DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.version_info(), "v1");
  ASSERT_EQ(response.resources_size(), 1);

  request.set_version_info("v1");
  request.set_response_nonce(response.nonce());
  ASSERT_TRUE(stream->Write(request));  // ACK

  cache_.SetSnapshot("n1", Snapshot{{kClusterType, {"v2", {{"a", ClusterAny("a", 2)}}}}});
  ASSERT_TRUE(stream->Read(&response));  // pushed
  EXPECT_EQ(response.version_info(), "v2");

  request.set_response_nonce(response.nonce());
  request.mutable_error_detail()->set_message("connect_timeout: too long");
  ASSERT_TRUE(stream->Write(request));  // NACK, version_info stays v1
  for (int i = 0; i < 100; ++i) {
    auto status = cache_.Status("n1");
    if (status && status->types[kClusterType].nacks == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  TypeStatus t = cache_.Status("n1")->types.at(kClusterType);
  EXPECT_EQ(t.acked_version, "v1");
  EXPECT_EQ(t.nack_version, "v2");
  EXPECT_EQ(t.nack_error, "connect_timeout: too long");
  EXPECT_EQ(cache_.Status("n1")->open_streams, 1);
  stream->WritesDone();
  context->TryCancel();
  stream->Finish();
}

TEST_F(AdsServerTest, DeltaStreamSendsChangesAndRemovals) {
  auto context = Context();
  auto stream = stub_->DeltaAggregatedResources(context.get());
  ads::DeltaDiscoveryRequest request;
  request.mutable_node()->set_id("n1");
  request.set_type_url(kClusterType);
  ASSERT_TRUE(stream->Write(request));
  ads::DeltaDiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.resources_size(), 1);
  EXPECT_EQ(response.resources(0).name(), "a");

  ads::DeltaDiscoveryRequest ack;
  ack.set_type_url(kClusterType);
  ack.set_response_nonce(response.nonce());
  ASSERT_TRUE(stream->Write(ack));

  cache_.SetSnapshot("n1", Snapshot{{kClusterType, {"v2", {{"b", ClusterAny("b", 1)}}}}});
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.resources_size(), 1);
  EXPECT_EQ(response.resources(0).name(), "b");
  ASSERT_EQ(response.removed_resources_size(), 1);
  EXPECT_EQ(response.removed_resources(0), "a");
  EXPECT_EQ(response.system_version_info(), "v2");
  context->TryCancel();
  stream->Finish();
}

TEST_F(AdsServerTest, ShutdownEndsOpenStreams) {
  auto context = Context();
  auto stream = stub_->StreamAggregatedResources(context.get());
  ads::DiscoveryRequest request;
  request.mutable_node()->set_id("n1");
  request.set_type_url(kClusterType);
  ASSERT_TRUE(stream->Write(request));
  ads::DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  server_.Shutdown();
  EXPECT_FALSE(stream->Read(&response));
  stream->Finish();
}

TEST_F(AdsServerTest, SeveralTypesChangingArePushedInWarmingOrder) {
  auto snapshot = [](int v) {
    Snapshot s;
    // Any bytes will do for the types the test does not decode; each differs per version.
    for (const char* type : {kRouteType, kListenerType, kEndpointType, kClusterType}) {
      s[type].resources["r"] = ClusterAny("r", v);
    }
    return s;
  };
  cache_.SetSnapshot("n1", snapshot(1));
  auto context = Context();
  auto stream = stub_->StreamAggregatedResources(context.get());
  // Subscribe in the "wrong" order, ACKing each first answer.
  for (const char* type : {kRouteType, kListenerType, kEndpointType, kClusterType}) {
    ads::DiscoveryRequest request;
    request.mutable_node()->set_id("n1");
    request.set_type_url(type);
    if (std::string(type) == kRouteType || std::string(type) == kEndpointType) {
      request.add_resource_names("r");
    }
    ASSERT_TRUE(stream->Write(request));
    ads::DiscoveryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_EQ(response.type_url(), type);
    request.set_version_info(response.version_info());
    request.set_response_nonce(response.nonce());
    ASSERT_TRUE(stream->Write(request));
  }
  cache_.SetSnapshot("n1", snapshot(2));
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    ads::DiscoveryResponse response;
    ASSERT_TRUE(stream->Read(&response));
    order.push_back(response.type_url());
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{kClusterType, kEndpointType, kListenerType, kRouteType}));
  context->TryCancel();
  stream->Finish();
}

TEST_F(AdsServerTest, DebouncedBurstBecomesOnePushOfTheLastState) {
  // A server of its own: the debounce is set before Start.
  SnapshotCache cache;
  cache.SetSnapshot("n1", Snapshot{{kClusterType, {"v1", {{"a", ClusterAny("a", 1)}}}}});
  AdsServer server(cache);
  server.SetPushDebounce(std::chrono::milliseconds(500));
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  auto stub = ads::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  auto context = Context();
  auto stream = stub->StreamAggregatedResources(context.get());
  ads::DiscoveryRequest request;
  request.mutable_node()->set_id("n1");
  request.set_type_url(kClusterType);
  ASSERT_TRUE(stream->Write(request));
  ads::DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  request.set_version_info(response.version_info());
  request.set_response_nonce(response.nonce());
  ASSERT_TRUE(stream->Write(request));
  // Spaced so that, without the debounce, v2 would be pushed on its own.
  for (int v = 2; v <= 4; ++v) {
    if (v > 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cache.SetSnapshot(
        "n1", Snapshot{{kClusterType, {"v" + std::to_string(v), {{"a", ClusterAny("a", v)}}}}});
  }
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.version_info(), "v4") << "the burst was pushed once, as its last state";
  context->TryCancel();
  stream->Finish();
}

TEST_F(AdsServerTest, StreamHooksSeeTheNodeAndASnapshotSetOnOpenIsTheFirstAnswer) {
  SnapshotCache cache;  // nothing for "n2" until its stream opens
  AdsServer server(cache);
  std::mutex mu;
  std::condition_variable closed_cv;
  NodeInfo opened;
  std::string closed;
  server.SetStreamHooks(
      [&](const NodeInfo& node) {
        {
          std::lock_guard lock(mu);
          opened = node;
        }
        cache.SetSnapshot(node.id, Snapshot{{kClusterType, {"v7", {{"a", ClusterAny("a", 7)}}}}});
      },
      [&](const std::string& node_id) {
        std::lock_guard lock(mu);
        closed = node_id;
        closed_cv.notify_all();
      });
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  auto stub = ads::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
  auto context = Context();
  auto stream = stub->StreamAggregatedResources(context.get());
  ads::DiscoveryRequest request;
  request.mutable_node()->set_id("n2");
  request.mutable_node()->set_cluster("c");
  request.mutable_node()->mutable_locality()->set_region("eu");
  (*request.mutable_node()->mutable_metadata()->mutable_fields())["NAMESPACE"].set_string_value(
      "bookinfo");
  request.set_type_url(kClusterType);
  ASSERT_TRUE(stream->Write(request));
  ads::DiscoveryResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.version_info(), "v7");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(opened.id, "n2");
    EXPECT_EQ(opened.cluster, "c");
    EXPECT_EQ(opened.locality, "eu//");
    EXPECT_EQ(opened.metadata_json, R"({"NAMESPACE":"bookinfo"})");
  }
  stream->WritesDone();
  stream->Finish();
  std::unique_lock lock(mu);
  EXPECT_TRUE(closed_cv.wait_for(lock, std::chrono::seconds(5), [&] { return !closed.empty(); }));
  EXPECT_EQ(closed, "n2");
}

}  // namespace
}  // namespace weft::control::xds
