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

TEST(NodeIdentityTest, IstioRegistrationMetadata) {
  // POD_PORTS as pilot-agent sends it: a string holding JSON.
  auto id = ParseNodeIdentity("reviews-v1",
                              R"({"NAME":"reviews-v1-abc","SERVICE_ACCOUNT":"bookinfo-reviews",
        "INSTANCE_IPS":"127.0.0.5","AUTO_REGISTER_GROUP":"reviews","NETWORK":"n1",
        "POD_PORTS":"[{\"name\":\"http\",\"containerPort\":9080,\"protocol\":\"TCP\"},{\"containerPort\":15090}]",
        "WEFT_OUTBOUND_ADDRESS":"127.0.0.6"})",
                              "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->name, "reviews-v1-abc");
  EXPECT_EQ(id->service_account, "bookinfo-reviews");
  EXPECT_EQ(id->auto_register_group, "reviews");
  EXPECT_EQ(id->network, "n1");
  EXPECT_EQ(id->outbound_address, "127.0.0.6");
  ASSERT_EQ(id->pod_ports.size(), 2u);
  EXPECT_EQ(id->pod_ports[0].name, "http");
  EXPECT_EQ(id->pod_ports[0].container_port, 9080u);
  EXPECT_EQ(id->pod_ports[0].protocol, "TCP");
  EXPECT_EQ(id->pod_ports[1].name, "");
  EXPECT_EQ(id->pod_ports[1].container_port, 15090u);

  // A plain JSON array is accepted too (hand-written bootstraps).
  auto array = ParseNodeIdentity("n", R"({"POD_PORTS":[{"name":"http","containerPort":80}]})", "");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->pod_ports.at(0).container_port, 80u);
}

TEST(NodeIdentityTest, RegistrationMetadataErrorsNameTheField) {
  auto message = [](const std::string& metadata) {
    auto id = ParseNodeIdentity("n", metadata, "");
    return id.ok() ? std::string("ok") : std::string(id.status().message());
  };
  EXPECT_EQ(message(R"({"POD_PORTS":"[{\"name\":\"http\",\"containerPort\":\"9080\"}]"})"),
            "metadata.POD_PORTS[0].containerPort: not a number");
  EXPECT_EQ(message(R"({"POD_PORTS":[{"name":"http"},{"containerPort":1}]})"),
            "metadata.POD_PORTS[0].containerPort: not set");
  EXPECT_EQ(message(R"({"POD_PORTS":[{"containerPort":1},{"containerPort":70000}]})"),
            "metadata.POD_PORTS[1].containerPort: not a port (1-65535)");
  EXPECT_EQ(message(R"({"POD_PORTS":[{"name":7,"containerPort":1}]})"),
            "metadata.POD_PORTS[0].name: not a string");
  EXPECT_EQ(message(R"({"POD_PORTS":"[{"})"), "metadata.POD_PORTS: not valid JSON");
  EXPECT_EQ(message(R"({"POD_PORTS":"{}"})"), "metadata.POD_PORTS: not a JSON array");
  EXPECT_EQ(message(R"({"SERVICE_ACCOUNT":1})"), "metadata.SERVICE_ACCOUNT: not a string");
  EXPECT_EQ(message(R"({"NAME":[]})"), "metadata.NAME: not a string");
  EXPECT_EQ(message(R"({"WEFT_OUTBOUND_ADDRESS":"localhost"})"),
            "metadata.WEFT_OUTBOUND_ADDRESS: not an IP address");
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

namespace weft::control::mesh {
namespace {

TEST(NodeIdentityTest, InterceptionModeAndUpstreams) {
  auto captured = ParseNodeIdentity("n", R"({"INTERCEPTION_MODE":"REDIRECT"})", "");
  ASSERT_TRUE(captured.ok()) << captured.status();
  EXPECT_TRUE(captured->capture);
  for (const char* plain : {R"({})", R"({"INTERCEPTION_MODE":"NONE"})"}) {
    auto id = ParseNodeIdentity("n", plain, "");
    ASSERT_TRUE(id.ok()) << plain;
    EXPECT_FALSE(id->capture) << plain;
  }
  auto upstreams = ParseNodeIdentity(
      "n", R"({"WEFT_UPSTREAMS":"reviews:9080=127.0.0.1:19080,ratings.prod:9080=127.0.0.2:19081"})",
      "");
  ASSERT_TRUE(upstreams.ok()) << upstreams.status();
  ASSERT_EQ(upstreams->upstreams.size(), 2u);
  EXPECT_EQ(upstreams->upstreams[0],
            (translate::UpstreamBinding{"reviews", 9080, "127.0.0.1", 19080}));
  EXPECT_EQ(upstreams->upstreams[1],
            (translate::UpstreamBinding{"ratings.prod", 9080, "127.0.0.2", 19081}));
  auto empty = ParseNodeIdentity("n", R"({"WEFT_UPSTREAMS":""})", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->upstreams.empty());
}

TEST(NodeIdentityTest, InterceptionModeAndUpstreamsErrorsNameTheField) {
  auto message = [](const std::string& metadata) {
    auto id = ParseNodeIdentity("n", metadata, "");
    return id.ok() ? std::string("ok") : std::string(id.status().message());
  };
  EXPECT_EQ(message(R"({"INTERCEPTION_MODE":"TPROXY"})"),
            "metadata.INTERCEPTION_MODE: not REDIRECT or NONE (TPROXY is not supported)");
  EXPECT_EQ(message(R"({"INTERCEPTION_MODE":true})"), "metadata.INTERCEPTION_MODE: not a string");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":["a"]})"), "metadata.WEFT_UPSTREAMS: not a string");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"reviews:9080=127.0.0.1:1,ratings"})"),
            "metadata.WEFT_UPSTREAMS[1]: not of the form service:port=ip:port");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"reviews=127.0.0.1:1"})"),
            "metadata.WEFT_UPSTREAMS[0]: not a service host:port");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"reviews:0=127.0.0.1:1"})"),
            "metadata.WEFT_UPSTREAMS[0]: not a service port (1-65535)");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"reviews:9080=127.0.0.1:99999"})"),
            "metadata.WEFT_UPSTREAMS[0]: not a bind port (1-65535)");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"reviews:9080=localhost:19080"})"),
            "metadata.WEFT_UPSTREAMS[0]: not bound on an IP address (ip:port)");
  EXPECT_EQ(message(R"({"WEFT_UPSTREAMS":"a:1=127.0.0.1:5,b:1=127.0.0.1:5"})"),
            "metadata.WEFT_UPSTREAMS[1]: 127.0.0.1:5 is bound twice");
}

}  // namespace
}  // namespace weft::control::mesh
