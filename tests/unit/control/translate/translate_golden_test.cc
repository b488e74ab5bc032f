// Golden tests of the translator: Istio YAML (Istio's own Bookinfo samples plus our registry and
// a kitchen-sink file) in, Envoy resources out, compared with tests/golden/translate/<name>.json.
// WEFT_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
//
// The contract with weft-proxy: every emitted Listener, Cluster and RouteConfiguration must be
// accepted by weft-proxy's own translation (src/proxy/config/translate.h). RDS and EDS references
// are resolved the way the proxy's xDS client will resolve them (the named RouteConfiguration
// inlined into the listener, the ClusterLoadAssignment into the cluster), since the static
// translators refuse `rds` and `eds_cluster_config` until the xDS client lands.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "control/mesh/vip_allocator.h"
#include "control/translate/translate.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "proxy/config/translate.h"
#include "proxy/config/yaml_to_json.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;

const std::string kSamples = WEFT_SOURCE_DIR "/../shared/conformance/istio-samples/";
const std::string kInputs = WEFT_SOURCE_DIR "/tests/unit/control/translate/inputs/";
const std::string kGolden = WEFT_SOURCE_DIR "/tests/golden/translate/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Multi-document YAML -> JSON objects, through the proxy's YAML converter (a Struct root types
// scalars by YAML 1.2's core schema, as the API server stores them).
std::vector<json> LoadYaml(const std::string& path) {
  std::vector<json> out;
  std::vector<std::string> docs(1);
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("---", 0) == 0) {
      docs.emplace_back();
    } else {
      docs.back() += line + "\n";
    }
  }
  for (const std::string& doc : docs) {
    if (doc.find_first_not_of(" \n") == std::string::npos ||
        doc.find("kind:") == std::string::npos) {
      continue;
    }
    auto text = config::YamlToJson(doc, *google::protobuf::Struct::descriptor());
    EXPECT_TRUE(text.ok()) << path << ": " << text.status();
    if (text.ok()) out.push_back(json::parse(*text));
  }
  return out;
}

json ToJson(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &text, options).ok());
  return json::parse(text);
}

template <typename T>
json ListToJson(const std::vector<T>& items) {
  json out = json::array();
  for (const T& item : items) out.push_back(ToJson(item));
  return out;
}

json ResourcesToJson(const XdsResources& r) {
  return json{{"listeners", ListToJson(r.listeners)},
              {"route_configs", ListToJson(r.route_configs)},
              {"clusters", ListToJson(r.clusters)},
              {"endpoints", ListToJson(r.endpoints)},
              {"warnings", r.warnings}};
}

// Every cluster a route or tcp_proxy names must be in the output (weft-proxy refuses a config
// whose routes name a missing cluster).
void ExpectClustersExist(const XdsResources& r) {
  std::set<std::string> clusters;
  for (const auto& c : r.clusters) clusters.insert(c.name());
  auto check = [&](const std::string& name, const std::string& where) {
    EXPECT_TRUE(clusters.count(name)) << where << " names missing cluster " << name;
  };
  for (const auto& rc : r.route_configs) {
    for (const auto& vh : rc.virtual_hosts()) {
      for (const auto& route : vh.routes()) {
        if (!route.has_route()) continue;
        if (!route.route().cluster().empty()) check(route.route().cluster(), rc.name());
        for (const auto& w : route.route().weighted_clusters().clusters()) {
          check(w.name(), rc.name());
        }
        for (const auto& m : route.route().request_mirror_policies()) check(m.cluster(), rc.name());
      }
    }
  }
  for (const auto& l : r.listeners) {
    for (const auto& fc : l.filter_chains()) {
      for (const auto& f : fc.filters()) {
        tcp::TcpProxy t;
        if (!f.typed_config().UnpackTo(&t)) continue;
        if (!t.cluster().empty()) check(t.cluster(), l.name());
        for (const auto& w : t.weighted_clusters().clusters()) check(w.name(), l.name());
      }
    }
  }
}

// DestinationRule file paths (/etc/certs/... in the inputs) name files weft-proxy reads when it
// translates: point them at a real certificate and key made for this run, so the whole cluster,
// TLS context included, goes through the translator. Names with "key" get the key.
void UseTestCertificateFiles(envoy::config::cluster::v3::Cluster& c) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/weft-golden-certs-XXXXXX";
    std::string d = mkdtemp(tmpl);
    const std::string cmd = "cd " + d +
                            " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                            "-nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=golden "
                            ">/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return d;
  }();
  static const bool cleanup_registered =
      std::atexit([] { std::filesystem::remove_all(dir); }) == 0;
  (void)cleanup_registered;
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(c, &text).ok());
  if (text.find("/etc/certs/") == std::string::npos) return;
  const std::string prefix = "\"/etc/certs/";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at)) {
    const size_t end = text.find('"', at + 1);
    const std::string name = text.substr(at + 1, end - at - 1);
    const std::string local =
        dir + (name.find("key") != std::string::npos ? "/key.pem" : "/cert.pem");
    text.replace(at + 1, end - at - 1, local);
    at += local.size() + 2;
  }
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &c).ok()) << text;
}

// Feeds everything through weft-proxy's translators, whole (listeners with their mTLS chains,
// RBAC and jwt_authn; clusters with auto mTLS transport_socket_matches and the endpoints'
// envoy.transport_socket_match metadata); RDS/EDS resolved as the xDS client will.
void ExpectProxyAccepts(const XdsResources& r) {
  std::map<std::string, const envoy::config::route::v3::RouteConfiguration*> routes;
  for (const auto& rc : r.route_configs) {
    routes[rc.name()] = &rc;
    auto status = config::TranslateRouteConfiguration(rc, rc.name());
    EXPECT_TRUE(status.ok()) << status.status();
  }
  for (envoy::config::listener::v3::Listener l : r.listeners) {
    for (auto& fc : *l.mutable_filter_chains()) {
      for (auto& f : *fc.mutable_filters()) {
        hcm::HttpConnectionManager m;
        if (!f.typed_config().UnpackTo(&m) || !m.has_rds()) continue;
        const auto it = routes.find(m.rds().route_config_name());
        ASSERT_NE(it, routes.end())
            << l.name() << ": no route config " << m.rds().route_config_name();
        *m.mutable_route_config() = *it->second;
        f.mutable_typed_config()->PackFrom(m);
      }
    }
    auto status = config::TranslateListener(l, l.name());
    EXPECT_TRUE(status.ok()) << status.status();
  }
  std::map<std::string, const envoy::config::endpoint::v3::ClusterLoadAssignment*> endpoints;
  for (const auto& cla : r.endpoints) endpoints[cla.cluster_name()] = &cla;
  for (envoy::config::cluster::v3::Cluster c : r.clusters) {
    if (c.has_eds_cluster_config()) {
      const auto it = endpoints.find(c.eds_cluster_config().service_name());
      ASSERT_NE(it, endpoints.end()) << c.name() << ": no ClusterLoadAssignment";
      EXPECT_EQ(c.eds_cluster_config().eds_config().ads().ByteSizeLong(), 0u);
      c.clear_eds_cluster_config();
      *c.mutable_load_assignment() = *it->second;
    }
    UseTestCertificateFiles(c);
    auto status = config::TranslateCluster(c, c.name());
    ASSERT_TRUE(status.ok()) << status.status();
    // Auto mTLS arrives whole: every match, and every endpoint's tlsMode metadata.
    EXPECT_EQ(status->transport_socket_matches.size(),
              static_cast<size_t>(c.transport_socket_matches_size()))
        << c.name();
    size_t marked = 0, carried = 0;
    for (const auto& l : c.load_assignment().endpoints()) {
      for (const auto& e : l.lb_endpoints()) {
        marked += e.metadata().filter_metadata().count("envoy.transport_socket_match");
      }
    }
    for (const auto& l : status->localities) {
      for (const auto& e : l.endpoints) carried += e.transport_socket_match.empty() ? 0 : 1;
    }
    EXPECT_EQ(carried, marked) << c.name();
  }
  ExpectClustersExist(r);
}

ProxyIdentity ProductPage() {
  ProxyIdentity p;
  p.node_id = "sidecar~10.1.3.1~productpage-v1.default~default.svc.cluster.local";
  p.namespace_ = "default";
  p.labels = {{"app", "productpage"}, {"version", "v1"}};
  p.ip = "10.1.3.1";
  p.locality = "us-east/zone-a";
  p.ports = {ServicePort{9080, "http", "HTTP", 19080}};
  p.mtls = true;  // WEFT_MTLS: a workload certificate (issue 6)
  return p;
}

struct Scenario {
  std::string name;
  std::vector<std::string> files;  // "sample:<file>" from Istio's samples, else from inputs/
  bool proxyless = false;          // seen by a proxyless gRPC client instead of productpage
  bool capture = false;            // productpage with INTERCEPTION_MODE REDIRECT
  bool registry_only = false;      // MeshConfig outboundTrafficPolicy REGISTRY_ONLY
  std::vector<UpstreamBinding> upstreams;  // productpage's WEFT_UPSTREAMS
  bool tcp_port = false;                   // productpage also serves TCP 3306 (network RBAC)
};

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.name; }

std::vector<json> LoadScenario(const Scenario& s) {
  std::vector<json> resources;
  for (const std::string& f : s.files) {
    const std::string path = f.rfind("sample:", 0) == 0 ? kSamples + f.substr(7) : kInputs + f;
    for (json& r : LoadYaml(path)) resources.push_back(std::move(r));
  }
  return resources;
}

// productpage as a proxyless gRPC client: no inbound ports, GENERATOR: grpc.
ProxyIdentity ProxylessClient() {
  ProxyIdentity p = ProductPage();
  p.node_id = "sidecar~10.1.3.1~productpage-grpc.default~default.svc.cluster.local";
  p.ports.clear();
  p.proxyless_grpc = true;
  return p;
}

// What gRPC's xDS client needs to resolve each listener: an api_listener whose RDS names a
// route config here, every routed cluster here, an EDS cluster's endpoints here with weighted
// localities, and only the LB policies gRPC C-core 1.51 has.
void ExpectGrpcCanResolve(const XdsResources& r) {
  std::set<std::string> route_configs, endpoints;
  for (const auto& rc : r.route_configs) route_configs.insert(rc.name());
  for (const auto& cla : r.endpoints) {
    endpoints.insert(cla.cluster_name());
    for (const auto& l : cla.endpoints()) {
      EXPECT_GT(l.load_balancing_weight().value(), 0u) << cla.cluster_name();
    }
  }
  ASSERT_FALSE(r.listeners.empty());
  for (const auto& l : r.listeners) {
    hcm::HttpConnectionManager m;
    ASSERT_TRUE(l.api_listener().api_listener().UnpackTo(&m)) << l.name();
    EXPECT_FALSE(l.has_address()) << l.name();
    EXPECT_TRUE(route_configs.count(m.rds().route_config_name())) << l.name();
    ASSERT_GT(m.http_filters_size(), 0);
    EXPECT_EQ(m.http_filters(m.http_filters_size() - 1).name(), "envoy.filters.http.router");
  }
  for (const auto& c : r.clusters) {
    EXPECT_TRUE(c.lb_policy() == envoy::config::cluster::v3::Cluster::ROUND_ROBIN ||
                c.lb_policy() == envoy::config::cluster::v3::Cluster::RING_HASH)
        << c.name();
    EXPECT_FALSE(c.has_outlier_detection()) << c.name();
    if (c.type() == envoy::config::cluster::v3::Cluster::EDS) {
      EXPECT_TRUE(endpoints.count(c.eds_cluster_config().service_name())) << c.name();
    } else {
      EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::LOGICAL_DNS) << c.name();
    }
  }
  for (const auto& rc : r.route_configs) {
    for (const auto& vh : rc.virtual_hosts()) {
      for (const auto& route : vh.routes()) {
        for (const auto& h : route.match().headers()) {
          EXPECT_FALSE(h.has_string_match()) << rc.name() << ": gRPC 1.51 reads the older fields";
        }
        EXPECT_FALSE(route.route().has_timeout()) << rc.name();
      }
    }
  }
  ExpectClustersExist(r);
}

class GoldenTest : public testing::TestWithParam<Scenario> {};

TEST_P(GoldenTest, MatchesGoldenAndProxyAcceptsIt) {
  if (!std::filesystem::exists(kSamples)) GTEST_SKIP() << "no Istio samples at " << kSamples;
  const Scenario& s = GetParam();
  Snapshot snapshot;
  snapshot.resources = LoadScenario(s);
  snapshot.registry = BuildRegistry(snapshot.resources);
  // weftd's VIPs (mesh/vip_allocator.h), as the mesh controller assigns them on every rebuild.
  mesh::VipAllocator vips;
  vips.Assign(snapshot.registry);
  if (s.registry_only) {
    snapshot.mesh.outbound_traffic_policy = MeshConfig::OutboundTrafficPolicy::kRegistryOnly;
  }
  ProxyIdentity identity = s.proxyless ? ProxylessClient() : ProductPage();
  identity.capture = s.capture;
  identity.upstreams = s.upstreams;
  if (s.tcp_port) identity.ports.push_back(ServicePort{3306, "mysql", "TCP", 13306});
  const XdsResources out = Translate(snapshot, identity);

  if (s.proxyless) {
    ExpectGrpcCanResolve(out);
  } else {
    ExpectProxyAccepts(out);
  }

  // Deterministic: the same input in another order gives the same output.
  Snapshot reversed = snapshot;
  std::reverse(reversed.resources.begin(), reversed.resources.end());
  reversed.registry = BuildRegistry(reversed.resources);
  vips.Assign(reversed.registry);
  const std::string text = ResourcesToJson(out).dump(2) + "\n";
  EXPECT_EQ(ResourcesToJson(Translate(reversed, identity)).dump(2) + "\n", text);

  const std::string golden_path = kGolden + s.name + ".json";
  if (const char* update = std::getenv("WEFT_UPDATE_GOLDEN");
      update && std::string(update) == "1") {
    std::ofstream(golden_path) << text;
    GTEST_SKIP() << "rewrote " << golden_path;
  }
  ASSERT_TRUE(std::filesystem::exists(golden_path))
      << golden_path << " is missing: run with WEFT_UPDATE_GOLDEN=1";
  EXPECT_EQ(ReadFile(golden_path), text)
      << "output differs from " << golden_path << " (WEFT_UPDATE_GOLDEN=1 rewrites it)";
}

INSTANTIATE_TEST_SUITE_P(
    Bookinfo, GoldenTest,
    testing::Values(
        Scenario{"bookinfo-no-rules", {"bookinfo-registry.yaml"}},
        Scenario{"bookinfo-all-v1",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-all-v1.yaml"}},
        Scenario{"reviews-80-20",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-reviews-80-20.yaml"}},
        Scenario{"reviews-jason-v2-v3",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-reviews-jason-v2-v3.yaml"}},
        Scenario{"ratings-delay",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-ratings-test-delay.yaml"}},
        Scenario{"ratings-abort",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-ratings-test-abort.yaml"}},
        Scenario{"ratings-cors", {"bookinfo-registry.yaml", "ratings-cors.yaml"}},
        Scenario{"kitchen-sink", {"bookinfo-registry.yaml", "kitchen-sink.yaml"}},
        Scenario{"proxyless-reviews-jason-v2-v3",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-reviews-jason-v2-v3.yaml"},
                 true},
        Scenario{"proxyless-ratings-delay",
                 {"bookinfo-registry.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-ratings-test-delay.yaml"},
                 true},
        Scenario{"proxyless-kitchen-sink", {"bookinfo-registry.yaml", "proxyless.yaml"}, true},
        // Issue 5: productpage captured by iptables (Istio's listener layout, VIPs, DNS).
        Scenario{"capture-allow-any",
                 {"bookinfo-registry.yaml", "mongodb.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-reviews-jason-v2-v3.yaml"},
                 false,
                 true},
        Scenario{"capture-registry-only",
                 {"bookinfo-registry.yaml", "mongodb.yaml", "egress-external.yaml"},
                 false,
                 true,
                 true},
        // Without capture: explicit outbound listeners per upstream (WEFT_UPSTREAMS).
        Scenario{"upstreams",
                 {"bookinfo-registry.yaml", "mongodb.yaml", "sample:destination-rule-all.yaml",
                  "sample:virtual-service-reviews-jason-v2-v3.yaml"},
                 false,
                 false,
                 false,
                 {{"reviews", 9080, "127.0.0.1", 19081},
                  {"details.default.svc.cluster.local", 9080, "127.0.0.1", 19082},
                  {"mongodb", 27017, "127.0.0.1", 19083}}},
        // Issue 6: PeerAuthentication, DestinationRule tls, auto mTLS, AuthorizationPolicy,
        // RequestAuthentication (docs/user-guide/security-policy.md).
        Scenario{"security-strict-capture",
                 {"bookinfo-registry.yaml", "security-mesh.yaml", "security-strict.yaml"},
                 false,
                 true,
                 false,
                 {},
                 true},
        Scenario{"security-port-disable",
                 {"bookinfo-registry.yaml", "security-mesh.yaml", "security-port-disable.yaml"},
                 false,
                 false,
                 false,
                 {},
                 true},
        Scenario{"security-dr-tls",
                 {"bookinfo-registry.yaml", "security-mesh.yaml", "security-dr-tls.yaml"}},
        Scenario{"security-istio-mtls-sample",
                 {"bookinfo-registry.yaml", "security-mesh.yaml",
                  "sample:destination-rule-all-mtls.yaml"}},
        Scenario{"security-authz",
                 {"bookinfo-registry.yaml", "security-authz.yaml"},
                 false,
                 true,
                 false,
                 {},
                 true},
        Scenario{"security-jwt", {"bookinfo-registry.yaml", "security-jwt.yaml"}}),
    [](const testing::TestParamInfo<Scenario>& info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

}  // namespace
}  // namespace weft::control::translate
