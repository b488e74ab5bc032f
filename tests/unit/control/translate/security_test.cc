// PeerAuthentication precedence, auto mTLS, and AuthorizationPolicy's value rules, through the
// translator's output (docs/user-guide/security-policy.md).
#include <gtest/gtest.h>

#include "control/translate/translate.h"
#include "control/translate/view_key.h"
#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;
namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tls = envoy::extensions::transport_sockets::tls::v3;

json Policy(const std::string& kind, const std::string& ns, const std::string& name, json spec,
            const std::string& created = "2026-01-01T00:00:00Z") {
  return json{{"apiVersion", "security.istio.io/v1"},
              {"kind", kind},
              {"metadata", {{"name", name}, {"namespace", ns}, {"creationTimestamp", created}}},
              {"spec", std::move(spec)}};
}

json Pa(const std::string& ns, const std::string& name, json spec,
        const std::string& created = "2026-01-01T00:00:00Z") {
  return Policy("PeerAuthentication", ns, name, std::move(spec), created);
}

ProxyIdentity App() {
  ProxyIdentity p;
  p.namespace_ = "default";
  p.labels = {{"app", "web"}};
  p.ip = "10.0.0.5";
  p.ports = {ServicePort{8080, "http", "HTTP", 18080}, ServicePort{5432, "tcp", "TCP", 15432}};
  p.mtls = true;
  return p;
}

// The inbound mode of `port` as the listener shows it: "STRICT" (mTLS chain only),
// "PERMISSIVE" (both), "DISABLE" (plaintext only).
std::string ModeOf(const XdsResources& r, uint32_t port) {
  for (const lst::Listener& l : r.listeners) {
    if (l.name() != "10.0.0.5_" + std::to_string(port)) continue;
    bool mtls = false, plain = false;
    for (const auto& c : l.filter_chains()) {
      (c.filter_chain_match().transport_protocol() == "tls" ? mtls : plain) = true;
    }
    return mtls && plain ? "PERMISSIVE" : mtls ? "STRICT" : plain ? "DISABLE" : "none";
  }
  return "missing";
}

std::string Mode(const std::vector<json>& resources, uint32_t port = 8080,
                 ProxyIdentity proxy = App()) {
  Snapshot s;
  s.resources = resources;
  return ModeOf(Translate(s, proxy), port);
}

TEST(PeerAuthenticationTest, DefaultIsPermissive) { EXPECT_EQ(Mode({}), "PERMISSIVE"); }

TEST(PeerAuthenticationTest, MeshNamespaceWorkloadPrecedence) {
  const json mesh = Pa("istio-system", "default", {{"mtls", {{"mode", "STRICT"}}}});
  const json ns_disable = Pa("default", "default", {{"mtls", {{"mode", "DISABLE"}}}});
  const json ns_unset = Pa("default", "default", {{"mtls", {{"mode", "UNSET"}}}});
  const json workload = Pa("default", "web",
                           {{"selector", {{"matchLabels", {{"app", "web"}}}}},
                            {"mtls", {{"mode", "PERMISSIVE"}}},
                            {"portLevelMtls", {{"5432", {{"mode", "STRICT"}}}}}});
  const json other_workload =
      Pa("default", "db",
         {{"selector", {{"matchLabels", {{"app", "db"}}}}}, {"mtls", {{"mode", "DISABLE"}}}});
  const json other_ns = Pa("prod", "default", {{"mtls", {{"mode", "DISABLE"}}}});
  EXPECT_EQ(Mode({mesh}), "STRICT");
  EXPECT_EQ(Mode({mesh, other_ns, other_workload}), "STRICT");
  EXPECT_EQ(Mode({mesh, ns_disable}), "DISABLE");
  EXPECT_EQ(Mode({mesh, ns_unset}), "STRICT");  // UNSET inherits the mesh's
  EXPECT_EQ(Mode({mesh, ns_disable, workload}), "PERMISSIVE");
  EXPECT_EQ(Mode({mesh, ns_disable, workload}, 5432), "STRICT");  // portLevelMtls
  // The oldest namespace-wide policy wins.
  const json newer = Pa("default", "zz", {{"mtls", {{"mode", "STRICT"}}}}, "2026-02-01T00:00:00Z");
  EXPECT_EQ(Mode({newer, ns_disable}), "DISABLE");
  // portLevelMtls without a selector is ignored (Istio), with a warning.
  Snapshot s;
  s.resources = {
      Pa("default", "default",
         {{"mtls", {{"mode", "STRICT"}}}, {"portLevelMtls", {{"8080", {{"mode", "DISABLE"}}}}}})};
  const XdsResources r = Translate(s, App());
  EXPECT_EQ(ModeOf(r, 8080), "STRICT");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("portLevelMtls needs a selector"), std::string::npos);
}

TEST(PeerAuthenticationTest, SelectorLabelsAreInTheViewKey) {
  std::vector<json> resources = {
      Pa("default", "web",
         {{"selector", {{"matchLabels", {{"tier", "front"}}}}}, {"mtls", {{"mode", "STRICT"}}}})};
  const auto keys = SelectorLabelKeys(resources);
  EXPECT_TRUE(keys.count("tier"));
  ProxyIdentity front = App();
  front.labels["tier"] = "front";
  EXPECT_NE(ViewKey(ViewOf(front, keys)), ViewKey(ViewOf(App(), keys)));
  EXPECT_EQ(Mode(resources, 8080, front), "STRICT");
  EXPECT_EQ(Mode(resources, 8080, App()), "PERMISSIVE");
}

TEST(PeerAuthenticationTest, MtlsChainIsIstios) {
  Snapshot s;
  s.resources = {Pa("istio-system", "default", {{"mtls", {{"mode", "STRICT"}}}})};
  const XdsResources r = Translate(s, App());
  for (const lst::Listener& l : r.listeners) {
    if (l.name() != "10.0.0.5_8080") continue;
    ASSERT_EQ(l.filter_chains_size(), 1);
    const auto& chain = l.filter_chains(0);
    EXPECT_EQ(chain.transport_socket().name(), "envoy.transport_sockets.tls");
    tls::DownstreamTlsContext ctx;
    ASSERT_TRUE(chain.transport_socket().typed_config().UnpackTo(&ctx));
    EXPECT_TRUE(ctx.require_client_certificate().value());
    EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).name(), "default");
    EXPECT_EQ(ctx.common_tls_context()
                  .combined_validation_context()
                  .validation_context_sds_secret_config()
                  .name(),
              "ROOTCA");
    ASSERT_EQ(l.listener_filters_size(), 1);
    EXPECT_EQ(l.listener_filters(0).name(), "envoy.filters.listener.tls_inspector");
    return;
  }
  FAIL() << "no inbound listener";
}

// The ALLOW RBAC policy of the HTTP chain on 8080 for one rule.
envoy::config::rbac::v3::Policy AllowPolicy(const json& rule) {
  Snapshot s;
  s.resources = {Policy("AuthorizationPolicy", "default", "p",
                        {{"action", "ALLOW"}, {"rules", json::array({rule})}})};
  const XdsResources r = Translate(s, App());
  for (const lst::Listener& l : r.listeners) {
    if (l.name() != "10.0.0.5_8080") continue;
    hcm::HttpConnectionManager m;
    EXPECT_TRUE(l.filter_chains(0).filters(0).typed_config().UnpackTo(&m));
    envoy::extensions::filters::http::rbac::v3::RBAC rbac;
    EXPECT_EQ(m.http_filters(0).name(), "envoy.filters.http.rbac");
    EXPECT_TRUE(m.http_filters(0).typed_config().UnpackTo(&rbac));
    EXPECT_EQ(rbac.rules().action(), envoy::config::rbac::v3::RBAC::ALLOW);
    const auto it = rbac.rules().policies().find("ns[default]-policy[p]-rule[0]");
    if (it == rbac.rules().policies().end()) return {};
    return it->second;
  }
  ADD_FAILURE() << "no inbound listener";
  return {};
}

TEST(AuthorizationPolicyTest, IstioWildcardRules) {
  auto principal = [](const std::string& v) {
    return AllowPolicy({{"from", {{{"source", {{"principals", {v}}}}}}}})
        .principals(0)
        .authenticated()
        .principal_name();
  };
  EXPECT_EQ(principal("cluster.local/ns/a/sa/b").exact(), "spiffe://cluster.local/ns/a/sa/b");
  EXPECT_EQ(principal("cluster.local/ns/a/*").prefix(), "spiffe://cluster.local/ns/a/");
  EXPECT_EQ(principal("*/sa/b").suffix(), "/sa/b");
  EXPECT_EQ(principal("*").safe_regex().regex(), ".+");
  auto path = [](const std::string& v) {
    return AllowPolicy({{"to", {{{"operation", {{"paths", {v}}}}}}}})
        .permissions(0)
        .url_path()
        .path();
  };
  EXPECT_EQ(path("/a").exact(), "/a");
  EXPECT_EQ(path("/a/*").prefix(), "/a/");
  EXPECT_EQ(path("*.png").suffix(), ".png");
  // Path templates are not supported: the rule is dropped (allows nothing), not widened.
  EXPECT_EQ(AllowPolicy({{"to", {{{"operation", {{"paths", {"/a/{*}/b"}}}}}}}}).permissions_size(),
            0);
  const auto ns = AllowPolicy({{"from", {{{"source", {{"namespaces", {"prod"}}}}}}}});
  EXPECT_EQ(ns.principals(0).authenticated().principal_name().safe_regex().regex(),
            ".*/ns/prod/.*");
  const auto empty = AllowPolicy(json::object());
  EXPECT_TRUE(empty.permissions(0).any());
  EXPECT_TRUE(empty.principals(0).any());
}

TEST(AuthorizationPolicyTest, OrderAndTcpRules) {
  Snapshot s;
  s.resources = {
      Policy("AuthorizationPolicy", "default", "allow",
             {{"rules", {{{"to", {{{"operation", {{"methods", {"GET"}}}}}}}}}}}),
      Policy(
          "AuthorizationPolicy", "default", "deny",
          {{"action", "DENY"},
           {"rules", {{{"to", {{{"operation", {{"methods", {"POST"}}, {"ports", {"5432"}}}}}}}}}}}),
      Policy("AuthorizationPolicy", "istio-system", "audit",
             {{"action", "AUDIT"}, {"rules", {json::object()}}})};
  const XdsResources r = Translate(s, App());
  for (const lst::Listener& l : r.listeners) {
    if (l.name() == "10.0.0.5_8080") {
      hcm::HttpConnectionManager m;
      ASSERT_TRUE(l.filter_chains(0).filters(0).typed_config().UnpackTo(&m));
      std::vector<envoy::config::rbac::v3::RBAC::Action> actions;
      for (const auto& f : m.http_filters()) {
        envoy::extensions::filters::http::rbac::v3::RBAC rbac;
        if (f.typed_config().UnpackTo(&rbac)) actions.push_back(rbac.rules().action());
      }
      EXPECT_EQ(actions,
                (std::vector<envoy::config::rbac::v3::RBAC::Action>{
                    envoy::config::rbac::v3::RBAC::LOG, envoy::config::rbac::v3::RBAC::DENY,
                    envoy::config::rbac::v3::RBAC::ALLOW}));
      EXPECT_EQ(m.http_filters(m.http_filters_size() - 1).name(), "envoy.filters.http.router");
    }
    if (l.name() == "10.0.0.5_5432") {
      const auto& chain = l.filter_chains(0);
      ASSERT_EQ(chain.filters_size(), 6);
      // Istio's TCP metadata exchange goes first "so RBAC failures, etc can access the state"
      // (inbound.go buildInboundNetworkFiltersForHTTP, istio/istio#41066).
      EXPECT_EQ(chain.filters(0).name(), "istio.metadata_exchange");
      EXPECT_EQ(chain.filters(1).name(), "envoy.filters.network.rbac");
      EXPECT_EQ(chain.filters(4).name(), "istio.stats");  // Istio's TCP metrics, after RBAC
      EXPECT_EQ(chain.filters(5).name(), "envoy.filters.network.tcp_proxy");
      // ALLOW with methods: dropped on TCP (nothing allowed); DENY: methods removed, the port
      // stays.
      envoy::extensions::filters::network::rbac::v3::RBAC allow, deny;
      ASSERT_TRUE(chain.filters(3).typed_config().UnpackTo(&allow));
      EXPECT_EQ(allow.rules().policies_size(), 0);
      ASSERT_TRUE(chain.filters(2).typed_config().UnpackTo(&deny));
      ASSERT_EQ(deny.rules().policies_size(), 1);
      EXPECT_EQ(deny.rules().policies().begin()->second.permissions(0).destination_port(), 5432u);
    }
  }
}

TEST(AutoMtlsTest, SidecarEndpointsGetIstioMutual) {
  Snapshot s;
  s.resources = {json::parse(R"({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
        "metadata": {"name": "db", "namespace": "prod"},
        "spec": {"hosts": ["db.prod.svc.cluster.local"], "location": "MESH_INTERNAL",
                 "resolution": "STATIC", "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}],
                 "endpoints": [{"address": "10.0.1.1", "serviceAccount": "db",
                                "labels": {"security.istio.io/tlsMode": "istio"}},
                               {"address": "10.0.1.2"}]}})")};
  s.registry = BuildRegistry(s.resources);
  s.mesh.trust_domain = "example.org";
  const XdsResources r = Translate(s, App());
  const envoy::config::cluster::v3::Cluster* c = nullptr;
  for (const auto& x : r.clusters) {
    if (x.name() == "outbound|5432||db.prod.svc.cluster.local") c = &x;
  }
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->transport_socket_matches_size(), 1);
  EXPECT_EQ(c->transport_socket_matches(0).match().fields().at("tlsMode").string_value(), "istio");
  tls::UpstreamTlsContext ctx;
  ASSERT_TRUE(c->transport_socket_matches(0).transport_socket().typed_config().UnpackTo(&ctx));
  EXPECT_EQ(ctx.sni(), "outbound_.5432_._.db.prod.svc.cluster.local");
  EXPECT_EQ(ctx.common_tls_context()
                .combined_validation_context()
                .default_validation_context()
                .match_typed_subject_alt_names(0)
                .matcher()
                .exact(),
            "spiffe://example.org/ns/prod/sa/db");
  // A TCP port: Istio's ALPNInMeshWithMxc, and the metadata exchange as a cluster filter.
  EXPECT_EQ(std::vector<std::string>(ctx.common_tls_context().alpn_protocols().begin(),
                                     ctx.common_tls_context().alpn_protocols().end()),
            (std::vector<std::string>{"istio-peer-exchange", "istio"}));
  ASSERT_EQ(c->filters_size(), 1);
  EXPECT_EQ(c->filters(0).name(), "istio.metadata_exchange");
  ASSERT_EQ(r.endpoints.size(), 1u);
  const auto& eps = r.endpoints[0].endpoints(0).lb_endpoints();
  ASSERT_EQ(eps.size(), 2);
  EXPECT_TRUE(eps[0].metadata().filter_metadata().count("envoy.transport_socket_match"));
  EXPECT_FALSE(eps[1].metadata().filter_metadata().count("envoy.transport_socket_match"));
}

}  // namespace
}  // namespace weft::control::translate

namespace weft::control::translate {
namespace {

// A proxy without a workload certificate (no WEFT_MTLS): PERMISSIVE serves plaintext only, STRICT
// still refuses plaintext, and its clusters get no auto mTLS.
// The chains of an inbound port as "<transport_protocol>[<application_protocols>]<socket>",
// socket "+tls" when the chain terminates TLS; its last (terminal) filter after "=>".
std::vector<std::string> Chains(const std::vector<json>& resources, uint32_t port) {
  Snapshot s;
  s.resources = resources;
  std::vector<std::string> out;
  for (const lst::Listener& l : Translate(s, App()).listeners) {
    if (l.name() != "10.0.0.5_" + std::to_string(port)) continue;
    for (const auto& c : l.filter_chains()) {
      std::string alpns;
      for (const std::string& a : c.filter_chain_match().application_protocols()) {
        alpns += (alpns.empty() ? "" : ",") + a;
      }
      std::string text = c.filter_chain_match().transport_protocol() + "[" + alpns + "]" +
                         (c.has_transport_socket() ? "+tls" : "") + "=>";
      if (c.filters_size() > 0) text += " " + c.filters(c.filters_size() - 1).name();
      out.push_back(text);
    }
  }
  return out;
}

// Istio's filter-chain match options by mode and protocol (filterchain_options.go).
TEST(PeerAuthenticationTest, InboundChainsAsIstioByModeAndProtocol) {
  const std::string mesh_alpns = "istio-peer-exchange,istio,istio-http/1.0,istio-http/1.1,istio-h2";
  const std::string hcm = "=> envoy.filters.network.http_connection_manager";
  const std::string tcp = "=> envoy.filters.network.tcp_proxy";
  // PERMISSIVE TCP: TLS without the mesh ALPNs (the application's own TLS) is passed through
  // to the application as TCP, not terminated.
  EXPECT_EQ(Chains({}, 5432), (std::vector<std::string>{"tls[" + mesh_alpns + "]+tls" + tcp,
                                                        "tls[]" + tcp, "raw_buffer[]" + tcp}));
  // PERMISSIVE HTTP: no passthrough (Istio: "explicitly declared as HTTP type").
  EXPECT_EQ(Chains({}, 8080),
            (std::vector<std::string>{"tls[" + mesh_alpns + "]+tls" + hcm, "raw_buffer[]" + hcm}));
  // STRICT: one terminating chain matching any TLS, whatever its ALPN.
  const json strict = Pa("istio-system", "default", {{"mtls", {{"mode", "STRICT"}}}});
  EXPECT_EQ(Chains({strict}, 5432), (std::vector<std::string>{"tls[]+tls" + tcp}));
  EXPECT_EQ(Chains({strict}, 8080), (std::vector<std::string>{"tls[]+tls" + hcm}));
  // DISABLE: one chain for every connection to the port, TLS or not.
  const json disable = Pa("istio-system", "default", {{"mtls", {{"mode", "DISABLE"}}}});
  EXPECT_EQ(Chains({disable}, 5432), (std::vector<std::string>{"[]" + tcp}));
  EXPECT_EQ(Chains({disable}, 8080), (std::vector<std::string>{"[]" + hcm}));
}

TEST(PeerAuthenticationTest, WithoutCertificate) {
  ProxyIdentity plain = App();
  plain.mtls = false;
  EXPECT_EQ(Mode({}, 8080, plain), "DISABLE");
  EXPECT_EQ(Mode({Pa("default", "default", {{"mtls", {{"mode", "STRICT"}}}})}, 8080, plain),
            "STRICT");
  EXPECT_NE(ViewKey(ViewOf(plain, {})), ViewKey(ViewOf(App(), {})));
}

}  // namespace
}  // namespace weft::control::translate
