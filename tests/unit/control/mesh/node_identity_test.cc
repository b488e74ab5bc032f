#include "control/mesh/node_identity.h"

#include <gtest/gtest.h>

namespace weft::control::mesh {
namespace {

TEST(NodeIdentityTest, IstioSidecarIdGivesIpAndNamespace) {
  auto id = ParseNodeIdentity(
      "sidecar~10.0.0.7~reviews-v1-5f6d.bookinfo~bookinfo.svc.cluster.local", "", "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->ip, "10.0.0.7");
  EXPECT_EQ(id->namespace_, "bookinfo");
  EXPECT_TRUE(id->labels.empty());
}

TEST(NodeIdentityTest, OtherIdsDefaultToTheDefaultNamespace) {
  auto id = ParseNodeIdentity("proxy-1", "{}", "");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->namespace_, "default");
  EXPECT_EQ(id->ip, "");
  EXPECT_EQ(id->node_id, "proxy-1");
}

TEST(NodeIdentityTest, MetadataOverridesTheId) {
  auto id = ParseNodeIdentity(
      "sidecar~10.0.0.7~pod.a~a.svc.cluster.local",
      R"({"NAMESPACE":"b","LABELS":{"app":"reviews","version":"v2"},"INSTANCE_IPS":"10.1.1.1,fd00::1"})",
      "eu/west-1a/");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->namespace_, "b");
  EXPECT_EQ(id->ip, "10.1.1.1");
  EXPECT_EQ(id->labels.at("version"), "v2");
  EXPECT_EQ(id->locality, "eu/west-1a/");
}

TEST(NodeIdentityTest, MalformedMetadataIsRefusedWithItsPath) {
  auto bad_label = ParseNodeIdentity("n", R"({"LABELS":{"app":3}})", "");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_EQ(bad_label.status().message(), "metadata.LABELS.app: not a string");
  auto bad_ns = ParseNodeIdentity("n", R"({"NAMESPACE":""})", "");
  ASSERT_FALSE(bad_ns.ok());
  EXPECT_EQ(bad_ns.status().message(), "metadata.NAMESPACE: not a non-empty string");
}

TEST(NodeIdentityTest, GeneratorGrpcMarksAProxylessClient) {
  auto grpc = ParseNodeIdentity("sidecar~10.0.0.7~client.a~a.svc.cluster.local",
                                R"({"GENERATOR":"grpc","NAMESPACE":"a"})", "");
  ASSERT_TRUE(grpc.ok()) << grpc.status();
  EXPECT_TRUE(grpc->proxyless_grpc);
  auto sidecar = ParseNodeIdentity("n", R"({"NAMESPACE":"a"})", "");
  ASSERT_TRUE(sidecar.ok());
  EXPECT_FALSE(sidecar->proxyless_grpc);
  auto bad = ParseNodeIdentity("n", R"({"GENERATOR":true})", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "metadata.GENERATOR: not a string");
}

}  // namespace
}  // namespace weft::control::mesh
