// The captured sidecar's layout (INTERCEPTION_MODE REDIRECT), its DNS table, the egress policy
// (MeshConfig and Sidecar) and WEFT_UPSTREAMS, rule by rule; the golden files
// (capture-allow-any, capture-registry-only, upstreams) show the whole output.
#include <gtest/gtest.h>

#include <map>

#include "control/translate/translate.h"
#include "control/translate/view_key.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.pb.h"
#include "proxy/config/translate.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;
namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;
namespace dns = envoy::extensions::filters::udp::dns_filter::v3;

json Object(const std::string& kind, const std::string& ns, const std::string& name, json spec) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json Service(const std::string& ns, const std::string& host, uint32_t port,
             const std::string& protocol, json extra = json::object()) {
  json spec = {{"hosts", {host}},
               {"ports", {{{"number", port}, {"name", "p"}, {"protocol", protocol}}}},
               {"resolution", "STATIC"}};
  spec.update(extra);
  return Object("ServiceEntry", ns, host, spec);
}

ProxyIdentity Captured(const std::string& ns = "default") {
  ProxyIdentity p;
  p.namespace_ = ns;
  p.ip = "10.250.0.5";
  p.capture = true;
  p.ports = {ServicePort{9080, "http", "HTTP", 0}};
  return p;
}

// Translates with one VIP per host without addresses, 240.240.0.<n> in registry order (the real
// allocator is tested in tests/unit/control/mesh/vip_allocator_test.cc).
XdsResources TranslateWithVips(
    const std::vector<json>& resources, const ProxyIdentity& proxy,
    MeshConfig::OutboundTrafficPolicy policy = MeshConfig::OutboundTrafficPolicy::kAllowAny) {
  Snapshot s;
  s.resources = resources;
  s.registry = BuildRegistry(resources);
  int n = 1;
  for (auto& service : s.registry.services) {
    if (service.addresses.empty() && service.resolution != Resolution::kNone) {
      service.allocated_vip = "240.240.0." + std::to_string(n++);
    }
  }
  s.mesh.outbound_traffic_policy = policy;
  return Translate(s, proxy);
}

const lst::Listener* FindListener(const XdsResources& r, const std::string& name) {
  for (const auto& l : r.listeners) {
    if (l.name() == name) return &l;
  }
  return nullptr;
}

std::string TcpCluster(const lst::FilterChain& chain) {
  tcp::TcpProxy t;
  // The terminal filter: istio.stats (and network RBAC) come before it.
  EXPECT_TRUE(chain.filters(chain.filters_size() - 1).typed_config().UnpackTo(&t)) << chain.name();
  return t.cluster();
}

// The dns listener's table: name -> addresses.
std::map<std::string, std::vector<std::string>> DnsTable(const XdsResources& r,
                                                         dns::DnsFilterConfig* config = nullptr) {
  const lst::Listener* l = FindListener(r, "dns");
  EXPECT_NE(l, nullptr);
  if (l == nullptr) return {};
  dns::DnsFilterConfig c;
  EXPECT_TRUE(l->listener_filters(0).typed_config().UnpackTo(&c));
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& d : c.server_config().inline_dns_table().virtual_domains()) {
    out[d.name()] = {d.endpoint().address_list().address().begin(),
                     d.endpoint().address_list().address().end()};
  }
  if (config != nullptr) *config = c;
  return out;
}

std::string FallbackVhost(const XdsResources& r, const std::string& route_config) {
  for (const auto& rc : r.route_configs) {
    if (rc.name() != route_config) continue;
    const auto& vh = rc.virtual_hosts(rc.virtual_hosts_size() - 1);
    return vh.name() + (vh.routes(0).has_direct_response()
                            ? ":" + std::to_string(vh.routes(0).direct_response().status())
                            : ":" + vh.routes(0).route().cluster());
  }
  return "";
}

TEST(CaptureTest, IstiosListenerLayout) {
  const XdsResources r = TranslateWithVips(
      {Service("default", "reviews", 9080, "HTTP"), Service("default", "mongodb", 27017, "TCP")},
      Captured());
  const lst::Listener* out = FindListener(r, "virtualOutbound");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->address().socket_address().address(), "0.0.0.0");
  EXPECT_EQ(out->address().socket_address().port_value(), 15001u);
  EXPECT_TRUE(out->use_original_dst().value());
  ASSERT_EQ(out->filter_chains_size(), 2);
  EXPECT_EQ(out->filter_chains(0).filter_chain_match().destination_port().value(), 15001u);
  EXPECT_EQ(TcpCluster(out->filter_chains(0)), "BlackHoleCluster");
  EXPECT_FALSE(out->filter_chains(1).has_filter_chain_match());
  EXPECT_EQ(TcpCluster(out->filter_chains(1)), "PassthroughCluster");

  const lst::Listener* in = FindListener(r, "virtualInbound");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->address().socket_address().port_value(), 15006u);
  // The original destination is restored for matching, but the connection is not handed to the
  // workload's own outbound listener of that port (which would route it a second time).
  EXPECT_FALSE(in->has_use_original_dst());
  ASSERT_EQ(in->listener_filters_size(), 1);
  EXPECT_EQ(in->listener_filters(0).name(), "envoy.filters.listener.original_dst");
  ASSERT_EQ(in->filter_chains_size(), 3);
  EXPECT_EQ(in->filter_chains(1).filter_chain_match().destination_port().value(), 9080u);
  hcm::HttpConnectionManager m;
  ASSERT_TRUE(in->filter_chains(1).filters(0).typed_config().UnpackTo(&m));
  EXPECT_EQ(m.route_config().virtual_hosts(0).routes(0).route().cluster(), "inbound|9080||");
  EXPECT_EQ(TcpCluster(in->filter_chains(2)), "InboundPassthroughCluster");

  // HTTP port: 0.0.0.0_9080, not bound, RDS "9080"; TCP service: its VIP's listener.
  const lst::Listener* http = FindListener(r, "0.0.0.0_9080");
  ASSERT_NE(http, nullptr);
  EXPECT_FALSE(http->bind_to_port().value());
  ASSERT_TRUE(http->filter_chains(0).filters(0).typed_config().UnpackTo(&m));
  EXPECT_EQ(m.rds().route_config_name(), "9080");
  const lst::Listener* mongo = FindListener(r, "240.240.0.1_27017");
  ASSERT_NE(mongo, nullptr);
  EXPECT_FALSE(mongo->bind_to_port().value());
  EXPECT_EQ(TcpCluster(mongo->filter_chains(0)),
            "outbound|27017||mongodb.default.svc.cluster.local");
  // No inbound listener bound on the workload's address: virtualInbound has its ports.
  EXPECT_EQ(FindListener(r, "10.250.0.5_9080"), nullptr);
  bool inbound_passthrough = false;
  for (const auto& c : r.clusters) {
    if (c.name() == "InboundPassthroughCluster") {
      inbound_passthrough = true;
      EXPECT_EQ(c.type(), envoy::config::cluster::v3::Cluster::ORIGINAL_DST);
    }
  }
  EXPECT_TRUE(inbound_passthrough);
}

TEST(CaptureTest, RouteDomainsCarryTheVipWithAndWithoutThePort) {
  const XdsResources r =
      TranslateWithVips({Service("default", "reviews", 9080, "HTTP")}, Captured());
  ASSERT_EQ(r.route_configs.size(), 1u);
  const auto& domains = r.route_configs[0].virtual_hosts(0).domains();
  const std::vector<std::string> d(domains.begin(), domains.end());
  EXPECT_NE(std::find(d.begin(), d.end(), "240.240.0.1"), d.end());
  EXPECT_NE(std::find(d.begin(), d.end(), "240.240.0.1:9080"), d.end());
  EXPECT_NE(std::find(d.begin(), d.end(), "reviews"), d.end());
}

TEST(CaptureTest, NoCaptureLayoutIsUnchanged) {
  ProxyIdentity p = Captured();
  p.capture = false;
  const XdsResources r = TranslateWithVips({Service("default", "reviews", 9080, "HTTP")}, p);
  EXPECT_EQ(FindListener(r, "virtualOutbound"), nullptr);
  EXPECT_EQ(FindListener(r, "dns"), nullptr);
  ASSERT_NE(FindListener(r, "127.0.0.1_9080"), nullptr);
  EXPECT_FALSE(FindListener(r, "127.0.0.1_9080")->has_bind_to_port());
  ASSERT_NE(FindListener(r, "10.250.0.5_9080"), nullptr);
}

TEST(CaptureTest, DnsListenerFollowsEnvoysDnsFilterConfig) {
  const XdsResources r =
      TranslateWithVips({Service("default", "reviews", 9080, "HTTP")}, Captured());
  dns::DnsFilterConfig config;
  const auto table = DnsTable(r, &config);
  const lst::Listener* l = FindListener(r, "dns");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->address().socket_address().protocol(), envoy::config::core::v3::SocketAddress::UDP);
  EXPECT_EQ(l->address().socket_address().address(), "127.0.0.1");
  EXPECT_EQ(l->address().socket_address().port_value(), 15053u);
  EXPECT_TRUE(l->has_udp_listener_config());
  EXPECT_EQ(l->listener_filters(0).name(), "envoy.filters.udp.dns_filter");
  EXPECT_EQ(config.stat_prefix(), "dns");
  EXPECT_FALSE(config.has_client_config());
  const auto& t = config.server_config().inline_dns_table();
  ASSERT_EQ(t.known_suffixes_size(), 1);
  EXPECT_EQ(t.known_suffixes(0).suffix(), "cluster.local");
  for (const auto& d : t.virtual_domains()) EXPECT_EQ(d.answer_ttl().seconds(), 30) << d.name();
  const std::map<std::string, std::vector<std::string>> want = {
      {"reviews", {"240.240.0.1"}},
      {"reviews.default", {"240.240.0.1"}},
      {"reviews.default.svc", {"240.240.0.1"}},
      {"reviews.default.svc.cluster.local", {"240.240.0.1"}}};
  EXPECT_EQ(table, want);
}

TEST(CaptureTest, DnsNamesAreRelativeToTheNodesNamespaceAndScoped) {
  const std::vector<json> resources = {
      Service("default", "reviews", 9080, "HTTP"),
      Service("default", "secret", 9080, "HTTP", {{"exportTo", {"."}}}),
      Service("default", "api.example.com", 443, "TLS",
              {{"addresses", {"203.0.113.7"}}, {"resolution", "DNS"}}),
      Service("default", "*.wild.example.com", 443, "TLS", {{"resolution", "NONE"}}),
      Service("default", "passthrough.example.com", 5432, "TCP", {{"resolution", "NONE"}}),
  };
  const auto table = DnsTable(TranslateWithVips(resources, Captured("prod")));
  // From "prod": no bare "reviews" (Kubernetes' search path would make it reviews.prod...).
  EXPECT_FALSE(table.count("reviews"));
  EXPECT_TRUE(table.count("reviews.default"));
  EXPECT_TRUE(table.count("reviews.default.svc"));
  EXPECT_TRUE(table.count("reviews.default.svc.cluster.local"));
  EXPECT_FALSE(table.count("secret.default")) << "exportTo '.' hides it from prod";
  ASSERT_TRUE(table.count("api.example.com"));
  EXPECT_EQ(table.at("api.example.com"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_FALSE(table.count("*.wild.example.com"));
  EXPECT_FALSE(table.count("passthrough.example.com")) << "resolution NONE: real DNS answers";

  // A Sidecar's egress hosts limit the table as they limit the listeners.
  std::vector<json> scoped = resources;
  scoped.push_back(
      Object("Sidecar", "prod", "default", {{"egress", {{{"hosts", {"*/api.example.com"}}}}}}));
  const auto limited = DnsTable(TranslateWithVips(scoped, Captured("prod")));
  EXPECT_EQ(limited.size(), 1u);
  EXPECT_TRUE(limited.count("api.example.com"));
}

TEST(EgressTest, MeshPolicyAndSidecarOverrideDecideBothCatchAlls) {
  const std::vector<json> resources = {Service("default", "reviews", 9080, "HTTP")};
  using Policy = MeshConfig::OutboundTrafficPolicy;
  auto catchall = [](const XdsResources& r) {
    return TcpCluster(FindListener(r, "virtualOutbound")->filter_chains(1));
  };
  XdsResources r = TranslateWithVips(resources, Captured(), Policy::kAllowAny);
  EXPECT_EQ(catchall(r), "PassthroughCluster");
  EXPECT_EQ(FallbackVhost(r, "9080"), "allow_any:PassthroughCluster");
  r = TranslateWithVips(resources, Captured(), Policy::kRegistryOnly);
  EXPECT_EQ(catchall(r), "BlackHoleCluster");
  EXPECT_EQ(FallbackVhost(r, "9080"), "block_all:502");

  // Istio: a Sidecar's outboundTrafficPolicy replaces the mesh's, either way.
  std::vector<json> allow = resources;
  allow.push_back(Object("Sidecar", "default", "default",
                         {{"outboundTrafficPolicy", {{"mode", "ALLOW_ANY"}}}}));
  r = TranslateWithVips(allow, Captured(), Policy::kRegistryOnly);
  EXPECT_EQ(catchall(r), "PassthroughCluster");
  EXPECT_EQ(FallbackVhost(r, "9080"), "allow_any:PassthroughCluster");
  std::vector<json> block = resources;
  block.push_back(Object("Sidecar", "default", "default",
                         {{"outboundTrafficPolicy", {{"mode", "REGISTRY_ONLY"}}}}));
  r = TranslateWithVips(block, Captured(), Policy::kAllowAny);
  EXPECT_EQ(catchall(r), "BlackHoleCluster");
  // A Sidecar that sets no policy inherits the mesh's.
  std::vector<json> silent = resources;
  silent.push_back(Object("Sidecar", "default", "default", json::object()));
  r = TranslateWithVips(silent, Captured(), Policy::kRegistryOnly);
  EXPECT_EQ(catchall(r), "BlackHoleCluster");

  // Without capture the policy only picks the HTTP fallback virtual host, as before.
  ProxyIdentity plain = Captured();
  plain.capture = false;
  r = TranslateWithVips(resources, plain, Policy::kRegistryOnly);
  EXPECT_EQ(FallbackVhost(r, "9080"), "block_all:502");
  EXPECT_EQ(FindListener(r, "virtualOutbound"), nullptr);
}

TEST(EgressTest, ExternalServiceEntriesStayReachableUnderRegistryOnly) {
  const XdsResources r =
      TranslateWithVips({Service("default", "httpbin.org", 80, "HTTP",
                                 {{"resolution", "DNS"}, {"location", "MESH_EXTERNAL"}}),
                         Service("default", "db.example.com", 5432, "TCP",
                                 {{"addresses", {"203.0.113.10"}},
                                  {"resolution", "NONE"},
                                  {"location", "MESH_EXTERNAL"}}),
                         Service("default", "legacy.example.com", 6379, "TCP",
                                 {{"resolution", "NONE"}, {"location", "MESH_EXTERNAL"}})},
                        Captured(), MeshConfig::OutboundTrafficPolicy::kRegistryOnly);
  // HTTP: its virtual host on 0.0.0.0_80 comes before block_all.
  ASSERT_EQ(r.route_configs.size(), 1u);
  EXPECT_EQ(r.route_configs[0].virtual_hosts(0).routes(0).route().cluster(),
            "outbound|80||httpbin.org");
  EXPECT_EQ(FallbackVhost(r, "80"), "block_all:502");
  // TCP with an address: "<address>_<port>"; without one (NONE): "0.0.0.0_<port>".
  ASSERT_NE(FindListener(r, "203.0.113.10_5432"), nullptr);
  EXPECT_EQ(TcpCluster(FindListener(r, "203.0.113.10_5432")->filter_chains(0)),
            "outbound|5432||db.example.com");
  ASSERT_NE(FindListener(r, "0.0.0.0_6379"), nullptr);
  EXPECT_EQ(TcpCluster(FindListener(r, "0.0.0.0_6379")->filter_chains(0)),
            "outbound|6379||legacy.example.com");
}

TEST(UpstreamsTest, ListenersSendEverythingToTheServicePort) {
  ProxyIdentity p = Captured();
  p.capture = false;
  p.upstreams = {{"reviews", 9080, "127.0.0.1", 19080},
                 {"mongodb.default.svc.cluster.local", 27017, "127.0.0.1", 19081},
                 {"nosuch", 80, "127.0.0.1", 19082},
                 {"reviews", 1234, "127.0.0.1", 19083}};
  const std::vector<json> resources = {
      Service("default", "reviews", 9080, "HTTP"),
      Service("default", "mongodb", 27017, "TCP"),
      Object(
          "VirtualService", "default", "reviews",
          {{"hosts", {"reviews"}},
           {"http", {{{"route", {{{"destination", {{"host", "reviews"}}}}}}, {"timeout", "3s"}}}}}),
  };
  const XdsResources r = TranslateWithVips(resources, p);
  const lst::Listener* http = FindListener(r, "127.0.0.1_19080");
  ASSERT_NE(http, nullptr);
  hcm::HttpConnectionManager m;
  ASSERT_TRUE(http->filter_chains(0).filters(0).typed_config().UnpackTo(&m));
  ASSERT_EQ(m.route_config().virtual_hosts_size(), 1);
  const auto& vh = m.route_config().virtual_hosts(0);
  ASSERT_EQ(vh.domains_size(), 1);
  EXPECT_EQ(vh.domains(0), "*");
  EXPECT_EQ(vh.routes(0).route().cluster(), "outbound|9080||reviews.default.svc.cluster.local");
  EXPECT_EQ(vh.routes(0).route().timeout().seconds(), 3) << "the VirtualService applies";
  const lst::Listener* mongo = FindListener(r, "127.0.0.1_19081");
  ASSERT_NE(mongo, nullptr);
  EXPECT_EQ(TcpCluster(mongo->filter_chains(0)),
            "outbound|27017||mongodb.default.svc.cluster.local");
  EXPECT_EQ(FindListener(r, "127.0.0.1_19082"), nullptr);
  EXPECT_EQ(FindListener(r, "127.0.0.1_19083"), nullptr);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("metadata.WEFT_UPSTREAMS[2]"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("metadata.WEFT_UPSTREAMS[3]"), std::string::npos) << r.warnings[1];

  // Captured proxies ignore WEFT_UPSTREAMS (iptables finds the destination).
  p.capture = true;
  EXPECT_EQ(FindListener(TranslateWithVips(resources, p), "127.0.0.1_19080"), nullptr);
}

TEST(ViewKeyTest, CaptureAndUpstreamsAreInTheKey) {
  ProxyIdentity a = Captured();
  a.capture = false;
  ProxyIdentity b = a;
  b.capture = true;
  EXPECT_NE(ViewKey(ViewOf(a, {})), ViewKey(ViewOf(b, {})));
  ProxyIdentity c = a;
  c.upstreams = {{"reviews", 9080, "127.0.0.1", 19080}};
  EXPECT_NE(ViewKey(ViewOf(a, {})), ViewKey(ViewOf(c, {})));
  ProxyIdentity d = c;
  d.upstreams[0].bind_port = 19081;
  EXPECT_NE(ViewKey(ViewOf(c, {})), ViewKey(ViewOf(d, {})));
  // Captured proxies of one namespace and ports share a view whatever their IPs.
  ProxyIdentity e = b;
  e.ip = "10.250.0.99";
  e.outbound_address = "127.0.0.2";
  EXPECT_EQ(ViewKey(ViewOf(b, {})), ViewKey(ViewOf(e, {})));
  const std::vector<json> resources = {Service("default", "reviews", 9080, "HTTP")};
  // ... and the reduced identity translates to the same bytes as the full one.
  const XdsResources full = TranslateWithVips(resources, e);
  const XdsResources reduced = TranslateWithVips(resources, ViewOf(e, {}));
  ASSERT_EQ(full.listeners.size(), reduced.listeners.size());
  for (size_t i = 0; i < full.listeners.size(); ++i) {
    EXPECT_EQ(full.listeners[i].SerializeAsString(), reduced.listeners[i].SerializeAsString())
        << full.listeners[i].name();
  }
}

}  // namespace
}  // namespace weft::control::translate

namespace weft::control::translate {
namespace {

// MeshConfig.accessLogFile: Istio's default access log on every connection manager and
// tcp_proxy of the sidecar, in a form weft-proxy accepts.
TEST(MeshAccessLogTest, EveryConnectionManagerAndTcpProxyLogsToTheFile) {
  Snapshot s;
  s.resources = {Service("default", "reviews", 9080, "HTTP"),
                 Service("default", "mongodb", 27017, "TCP")};
  s.registry = BuildRegistry(s.resources);
  s.mesh.access_log_file = "/dev/stdout";
  const XdsResources r = Translate(s, Captured());
  int http = 0, tcp_count = 0;
  for (const auto& l : r.listeners) {
    for (const auto& chain : l.filter_chains()) {
      for (const auto& f : chain.filters()) {
        const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>* logs =
            nullptr;
        hcm::HttpConnectionManager m;
        tcp::TcpProxy t;
        if (f.typed_config().UnpackTo(&m)) {
          logs = &m.access_log();
          ++http;
        } else if (f.typed_config().UnpackTo(&t)) {
          logs = &t.access_log();
          ++tcp_count;
        } else {
          continue;
        }
        ASSERT_EQ(logs->size(), 1) << l.name();
        envoy::extensions::access_loggers::file::v3::FileAccessLog file;
        ASSERT_TRUE(logs->Get(0).typed_config().UnpackTo(&file));
        EXPECT_EQ(file.path(), "/dev/stdout");
        EXPECT_NE(
            file.log_format().text_format_source().inline_string().find("%UPSTREAM_CLUSTER_RAW%"),
            std::string::npos);
      }
    }
    EXPECT_TRUE(config::TranslateListener(l, l.name()).ok()) << l.name();
  }
  EXPECT_GT(http, 0);
  EXPECT_GT(tcp_count, 0);

  s.mesh.access_log_file.clear();  // Istio's default: no access log
  for (const auto& l : Translate(s, Captured()).listeners) {
    for (const auto& chain : l.filter_chains()) {
      for (const auto& f : chain.filters()) {
        hcm::HttpConnectionManager m;
        if (f.typed_config().UnpackTo(&m)) EXPECT_EQ(m.access_log_size(), 0);
      }
    }
  }
}

}  // namespace
}  // namespace weft::control::translate
