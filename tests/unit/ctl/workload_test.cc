// The workload commands' pure parts: flag parsing, the sidecar's bootstrap (Istio's node id and
// pilot-agent's metadata), the capture rules, the pod resolv.conf, workload.json round trips and
// address allocation under <home>/network.
#include "ctl/workload.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ctl/ipam.h"
#include "ctl/netns.h"
#include "ctl/sidecar_bootstrap.h"
#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

TEST(WorkloadFlagsTest, PortsWithProtocolsAndIstioNames) {
  std::string error;
  auto http = ParsePort("9080", &error);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->number, 9080);
  EXPECT_EQ(http->protocol, "HTTP");
  EXPECT_EQ(http->name, "http-9080");
  auto tcp = ParsePort("3306/TCP", &error);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->protocol, "TCP");
  EXPECT_EQ(tcp->name, "tcp-3306");
  EXPECT_EQ(ParsePort("50051/grpc", &error)->protocol, "GRPC");
  auto mapped = ParsePort("9080:19081/tcp", &error);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->number, 9080);
  EXPECT_EQ(mapped->AppPort(), 19081);
  EXPECT_EQ(mapped->name, "tcp-9080");
  EXPECT_EQ(ParsePort("9080", &error)->AppPort(), 9080);
  EXPECT_FALSE(ParsePort("9080:", &error));
  EXPECT_FALSE(ParsePort("9080:0", &error));
  EXPECT_FALSE(ParsePort("0", &error));
  EXPECT_FALSE(ParsePort("70000", &error));
  EXPECT_FALSE(ParsePort("80x", &error));
  EXPECT_FALSE(ParsePort("80/udp", &error));
  EXPECT_EQ(error, "--port 80/udp: unknown protocol 'udp' (http, http2, grpc, tcp)");
}

TEST(WorkloadFlagsTest, ReservedAndDuplicatePortsAreRefused) {
  std::string error;
  std::vector<WorkloadPort> ports = {{9080, "HTTP", "http-9080"}};
  EXPECT_TRUE(CheckPorts(ports, &error));
  for (int reserved : {15000, 15001, 15006, 15021, 15053, 15090}) {
    EXPECT_FALSE(CheckPorts({{reserved, "HTTP", "x"}}, &error)) << reserved;
  }
  ports.push_back({9080, "TCP", "tcp-9080"});
  EXPECT_FALSE(CheckPorts(ports, &error));
  EXPECT_EQ(error, "--port 9080: given twice");
  // Two service ports onto one application port, or an application port the sidecar holds.
  EXPECT_FALSE(CheckPorts({{80, "HTTP", "a", 8080}, {81, "HTTP", "b", 8080}}, &error));
  EXPECT_FALSE(CheckPorts({{80, "HTTP", "a", 15006}}, &error));
  EXPECT_TRUE(CheckPorts({{80, "HTTP", "a", 8080}, {8080, "HTTP", "b", 80}}, &error));
}

TEST(WorkloadFlagsTest, LabelsAreKubernetesLabels) {
  std::string error;
  auto label = ParseLabel("version=v1", &error);
  ASSERT_TRUE(label);
  EXPECT_EQ(*label, std::make_pair(std::string("version"), std::string("v1")));
  EXPECT_TRUE(ParseLabel("istio.io/rev=canary", &error));
  EXPECT_TRUE(ParseLabel("empty=", &error));
  EXPECT_FALSE(ParseLabel("version", &error));
  EXPECT_EQ(error, "--label version: expected KEY=VALUE");
  EXPECT_FALSE(ParseLabel("=v1", &error));
  EXPECT_FALSE(ParseLabel("k=bad value", &error));
  EXPECT_FALSE(ParseLabel("-k=v", &error));
}

TEST(WorkloadFlagsTest, UpstreamsAreServicePortToLoopbackAddress) {
  std::string error;
  auto u = ParseUpstream("reviews:9080=127.0.0.1:19080", &error);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->service, "reviews");
  EXPECT_EQ(u->port, 9080);
  EXPECT_EQ(u->local_address, "127.0.0.1:19080");
  EXPECT_TRUE(ParseUpstream("reviews.prod.svc.cluster.local:80=127.0.0.9:1", &error));
  for (const char* bad : {"reviews=127.0.0.1:1", "reviews:9080", "reviews:9080=10.0.0.1:1",
                          "reviews:0x=127.0.0.1:1", "reviews:9080=127.0.0.1:99999"}) {
    EXPECT_FALSE(ParseUpstream(bad, &error)) << bad;
  }
}

TEST(WorkloadFlagsTest, NamesAndVethNames) {
  EXPECT_TRUE(ValidWorkloadName("reviews-v1"));
  EXPECT_FALSE(ValidWorkloadName("Reviews"));
  EXPECT_FALSE(ValidWorkloadName("-x"));
  EXPECT_FALSE(ValidWorkloadName(""));
  // Interface names are at most 15 bytes; the hash is stable (FNV-1a) and differs per name.
  EXPECT_EQ(VethName("reviews-v1").size(), 10u);
  EXPECT_EQ(VethName("reviews-v1").substr(0, 2), "wv");
  EXPECT_EQ(VethName("reviews-v1"), VethName("reviews-v1"));
  EXPECT_NE(VethName("reviews-v1"), VethName("reviews-v2"));
}

WorkloadRecord Reviews() {
  WorkloadRecord w;
  w.name = "reviews-v2";
  w.ns = "default";
  w.service = "reviews";
  w.service_account = "bookinfo-reviews";
  w.ports = {{9080, "HTTP", "http"}};
  w.labels = {{"version", "v2"}};
  w.ip = "10.250.0.7";
  w.xds_address = "10.250.0.1:15010";
  return w;
}

// A sidecar with an identity reaches ADS over TLS on weftd's TLS port (the CA's), at the host it
// already reaches weftd at, verifying weftd as istiod.istio-system.svc with the mesh root.
TEST(SidecarBootstrapTest, AdsOverTlsWithAnIdentity) {
  WorkloadRecord w = Reviews();
  const nlohmann::json plain = SidecarBootstrap(w)["static_resources"]["clusters"][0];
  EXPECT_FALSE(plain.contains("transport_socket"));
  EXPECT_EQ(plain["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
                 ["socket_address"]["port_value"],
            15010);

  w.ca_address = "istiod.istio-system.svc:15012";
  nlohmann::json b = SidecarBootstrap(w, "-----BEGIN CERTIFICATE-----\nroot\n");
  const auto& xds = b["static_resources"]["clusters"][0];
  const auto& address = xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
                           ["address"]["socket_address"];
  EXPECT_EQ(address["address"], "10.250.0.1");
  EXPECT_EQ(address["port_value"], 15012);
  const auto& tls = xds["transport_socket"]["typed_config"];
  EXPECT_EQ(tls["sni"], "istiod.istio-system.svc");
  EXPECT_EQ(tls["common_tls_context"]["validation_context"]["trusted_ca"]["inline_string"],
            "-----BEGIN CERTIFICATE-----\nroot\n");
}

TEST(SidecarBootstrapTest, IstioNodeIdAndMetadata) {
  WorkloadRecord w = Reviews();
  nlohmann::json b = SidecarBootstrap(w);
  EXPECT_EQ(b["node"]["id"], "sidecar~10.250.0.7~reviews-v2.default~default.svc.cluster.local");
  const auto& md = b["node"]["metadata"];
  EXPECT_EQ(md["NAME"], "reviews-v2");
  EXPECT_EQ(md["WORKLOAD_NAME"], "reviews-v2");  // source/destination_workload in Istio metrics
  EXPECT_EQ(md["NAMESPACE"], "default");
  EXPECT_EQ(md["SERVICE_ACCOUNT"], "bookinfo-reviews");
  EXPECT_EQ(md["LABELS"], (nlohmann::json{{"app", "reviews"}, {"version", "v2"}}));
  EXPECT_EQ(md["INSTANCE_IPS"], "10.250.0.7");
  // A string holding a JSON array, as pilot-agent sends it.
  EXPECT_EQ(md["POD_PORTS"], R"([{"containerPort":9080,"name":"http","protocol":"TCP"}])");
  w.ports[0].target = 19080;  // the service's 9080 reaches this workload on 19080
  EXPECT_EQ(SidecarBootstrap(w)["node"]["metadata"]["POD_PORTS"],
            R"([{"containerPort":19080,"name":"http","protocol":"TCP"}])");
  EXPECT_EQ(md["INTERCEPTION_MODE"], "REDIRECT");
  EXPECT_FALSE(md.contains("WEFT_OUTBOUND_ADDRESS"));
  EXPECT_EQ(b["admin"]["address"]["socket_address"]["address"], "127.0.0.1");
  EXPECT_EQ(b["admin"]["address"]["socket_address"]["port_value"], 15000);
  const auto& xds = b["static_resources"]["clusters"][0];
  EXPECT_EQ(xds["name"], "xds");
  const auto& address =
      xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"];
  EXPECT_EQ(address["socket_address"]["address"], "10.250.0.1");
  EXPECT_EQ(address["socket_address"]["port_value"], 15010);
  EXPECT_EQ(b["dynamic_resources"]["ads_config"]["grpc_services"][0]["envoy_grpc"]["cluster_name"],
            "xds");
}

TEST(SidecarBootstrapTest, NoCaptureAndRevision) {
  WorkloadRecord w = Reviews();
  w.capture = false;
  w.ip = "127.0.0.20";
  w.outbound_ip = "127.0.0.21";
  w.revision = "canary";
  w.upstreams = {{"ratings", 9080, "127.0.0.1:19081"}, {"details", 9080, "127.0.0.1:19082"}};
  const auto md = SidecarBootstrap(w)["node"]["metadata"];
  EXPECT_EQ(md["INTERCEPTION_MODE"], "NONE");
  EXPECT_EQ(md["WEFT_OUTBOUND_ADDRESS"], "127.0.0.21");
  EXPECT_EQ(md["WEFT_UPSTREAMS"], "ratings:9080=127.0.0.1:19081,details:9080=127.0.0.1:19082");
  EXPECT_EQ(md["LABELS"]["istio.io/rev"], "canary");
  w.revision = "default";
  EXPECT_FALSE(WorkloadLabels(w).count("istio.io/rev"));
  w.labels["app"] = "mine";  // a --label app=... wins over the service name
  EXPECT_EQ(WorkloadLabels(w)["app"], "mine");
}

TEST(CaptureRulesTest, IstioRedirectsWithTheProxyExcluded) {
  const std::string rules = CaptureRules();
  EXPECT_EQ(rules.rfind("*nat\n", 0), 0u);
  for (const char* line : {
           "-A PREROUTING -p tcp -j ISTIO_INBOUND\n",
           "-A ISTIO_INBOUND -p tcp --dport 15006 -j RETURN\n",
           "-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN\n",
           "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n",
           "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n",
           "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN\n",
           "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n",
           "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n",
           "-A OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 15053\n",
       }) {
    EXPECT_NE(rules.find(line), std::string::npos) << line;
  }
  // The exclusions come before the redirects they guard.
  EXPECT_LT(rules.find("--uid-owner 1337 -j RETURN"), rules.find("-j ISTIO_REDIRECT"));
  EXPECT_LT(rules.find("--dport 53 -m owner --uid-owner 1337 -j RETURN"),
            rules.find("--to-ports 15053"));
  EXPECT_EQ(rules.substr(rules.size() - 7), "COMMIT\n");
}

TEST(CaptureRulesTest, PodResolvConfIsAKubernetesPods) {
  EXPECT_EQ(PodResolvConf("192.0.2.53", "prod"),
            "nameserver 192.0.2.53\n"
            "search prod.svc.cluster.local svc.cluster.local cluster.local\n"
            "options ndots:5\n");
  EXPECT_EQ(DnsUpstream("198.51.100.1"), "198.51.100.1");
}

class HomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::filesystem::temp_directory_path() /
            ("weft-home-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    setenv("WEFT_HOME", home_.c_str(), 1);
  }
  void TearDown() override {
    std::filesystem::remove_all(home_);
    unsetenv("WEFT_HOME");
  }
  std::filesystem::path home_;
};

TEST_F(HomeTest, WorkloadJsonRoundTrips) {
  WorkloadRecord w = Reviews();
  w.command = {"python3", "-m", "http.server"};
  w.upstreams = {{"ratings", 9080, "127.0.0.1:19081"}};
  w.proxy_pid = 42;
  w.ca_address = "istiod.istio-system.svc:15012";
  w.trust_domain = "example.org";
  std::string error;
  ASSERT_TRUE(WriteWorkload(w, &error)) << error;
  auto back = ReadWorkload("reviews-v2", &error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(ToJson(*back), ToJson(w));
  EXPECT_EQ(ListWorkloadNames(), std::vector<std::string>{"reviews-v2"});
  EXPECT_FALSE(ReadWorkload("nope", &error));
  EXPECT_EQ(error, "");
}

TEST_F(HomeTest, AddressesAreHandedOutOnceAndReleasedPerWorkload) {
  auto subnet = ParseCidr("10.231.7.9/16");
  ASSERT_TRUE(subnet);
  EXPECT_EQ(FormatIpv4(subnet->network), "10.231.0.0");
  EXPECT_FALSE(ParseCidr("10.0.0.0/31"));
  EXPECT_FALSE(ParseCidr("10.0.0.0"));
  std::string error;
  {
    auto ipam = Ipam::Lock(&error);
    ASSERT_TRUE(ipam) << error;
    EXPECT_EQ(ipam->Allocate(*subnet, 2, "a", nullptr), "10.231.0.2");
    EXPECT_EQ(ipam->Allocate(*subnet, 2, "b", nullptr), "10.231.0.3");
    ipam->SetBridgeCreatedByWeft("wtb0", true);
    ASSERT_TRUE(ipam->Save(&error)) << error;
  }
  {
    auto ipam = Ipam::Lock(&error);
    ASSERT_TRUE(ipam);
    EXPECT_TRUE(ipam->BridgeCreatedByWeft("wtb0"));
    // `usable` can veto an address (a no-capture workload's ports taken there).
    EXPECT_EQ(
        ipam->Allocate(*subnet, 2, "c", [](const std::string& a) { return a != "10.231.0.4"; }),
        "10.231.0.5");
    ipam->Release("a");
    EXPECT_EQ(ipam->CountIn(*subnet), 2);
    EXPECT_EQ(ipam->Allocate(*subnet, 2, "d", nullptr), "10.231.0.2");  // reused
    ipam->Release("b");
    ipam->Release("c");
    ipam->Release("d");
    EXPECT_EQ(ipam->CountIn(*subnet), 0);
  }
  // A /30 has two usable addresses: the bridge's and one workload's.
  auto tiny = ParseCidr("10.9.9.0/30");
  auto ipam = Ipam::Lock(&error);
  EXPECT_EQ(ipam->Allocate(*tiny, 2, "x", nullptr), "10.9.9.2");
  EXPECT_FALSE(ipam->Allocate(*tiny, 2, "y", nullptr));
}

}  // namespace
}  // namespace weft::ctl
