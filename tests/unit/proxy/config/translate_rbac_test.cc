// Envoy RBAC policies from a bootstrap (network RBAC before tcp_proxy, HTTP RBAC in an HCM),
// compiled and evaluated: every permission and principal kind, and/or/not, ALLOW / DENY / LOG,
// and what is refused (with its path).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "http/header_map.h"
#include "network/address.h"
#include "proxy/config/bootstrap_loader.h"
#include "proxy/filters/network_rbac.h"
#include "proxy/filters/rbac.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

// A TCP listener whose chain is [network rbac with `rbac_body`, tcp_proxy].
std::string NetworkRbacBootstrap(const std::string& rbac_body) {
  return R"Y(
static_resources:
  clusters:
  - name: backend
    type: STATIC
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9}}}}]}]
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 15001}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
          stat_prefix: tcp
)Y" + rbac_body +
         R"Y(
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: backend
)Y";
}

// `rules:` with one policy "p" of the given permission and principal (flow-style YAML).
std::string OnePolicy(const std::string& action, const std::string& permission,
                      const std::string& principal) {
  return "          rules:\n            action: " + action +
         "\n            policies:\n              p:\n                permissions: [" + permission +
         "]\n                principals: [" + principal + "]\n";
}

absl::StatusOr<std::shared_ptr<const rbac::RbacConfig>> Load(const std::string& rbac_body) {
  auto b = LoadBootstrapFromString(NetworkRbacBootstrap(rbac_body));
  if (!b.ok()) return b.status();
  const auto& rbacs = b->listeners.at(0).filter_chains.at(0).network_rbacs;
  if (rbacs.size() != 1) return absl::InternalError("expected one network rbac");
  return rbacs[0];
}

// A request as the HTTP filter sees it.
struct Request {
  http::HeaderMap headers;
  access_log::StreamInfo info;
  Request() {
    headers.Add(":method", "GET");
    headers.Add(":path", "/api/v1/items?x=1");
    headers.Add(":authority", "shop.test");
    info.downstream_direct_remote_address = "10.1.2.3:40000";
    info.downstream_remote_address = "192.168.7.7:40000";
    info.downstream_local_address = "10.9.9.9:8080";
  }
  rbac::RbacRequest View() const { return filters::RbacRequestFor(info, &headers); }
};

// Whether the single ALLOW policy (permission, principal) matches the default request.
bool Matches(const std::string& permission, const std::string& principal, const Request& r = {}) {
  auto config = Load(OnePolicy("ALLOW", permission, principal));
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return false;
  return (*config)->rules->Evaluate(r.View()).allowed;
}

constexpr const char* kAny = "{any: true}";

TEST(RbacEngineTest, AnyMatchesEverything) { EXPECT_TRUE(Matches(kAny, kAny)); }

TEST(RbacEngineTest, HeaderPermission) {
  EXPECT_TRUE(Matches("{header: {name: ':method', string_match: {exact: GET}}}", kAny));
  EXPECT_FALSE(Matches("{header: {name: ':method', string_match: {exact: POST}}}", kAny));
  EXPECT_TRUE(Matches("{header: {name: ':authority', string_match: {suffix: .test}}}", kAny));
  EXPECT_FALSE(Matches("{header: {name: x-missing, present_match: true}}", kAny));
}

TEST(RbacEngineTest, UrlPathIgnoresTheQuery) {
  EXPECT_TRUE(Matches("{url_path: {path: {exact: /api/v1/items}}}", kAny));
  EXPECT_TRUE(Matches("{url_path: {path: {prefix: /api/}}}", kAny));
  EXPECT_FALSE(Matches("{url_path: {path: {exact: '/api/v1/items?x=1'}}}", kAny));
}

TEST(RbacEngineTest, DestinationIpAndPort) {
  EXPECT_TRUE(Matches("{destination_ip: {address_prefix: 10.9.0.0, prefix_len: 16}}", kAny));
  EXPECT_FALSE(Matches("{destination_ip: {address_prefix: 10.8.0.0, prefix_len: 16}}", kAny));
  EXPECT_TRUE(Matches("{destination_port: 8080}", kAny));
  EXPECT_FALSE(Matches("{destination_port: 8081}", kAny));
  EXPECT_TRUE(Matches("{destination_port_range: {start: 8000, end: 8081}}", kAny));
  EXPECT_FALSE(
      Matches("{destination_port_range: {start: 8000, end: 8080}}", kAny));  // [start, end)
}

TEST(RbacEngineTest, RequestedServerName) {
  Request r;
  r.info.requested_server_name = "reviews.default.svc";
  EXPECT_TRUE(Matches("{requested_server_name: {prefix: reviews.}}", kAny, r));
  EXPECT_FALSE(Matches("{requested_server_name: {prefix: ratings.}}", kAny, r));
}

TEST(RbacEngineTest, SourceDirectRemoteAndRemoteIp) {
  // source_ip and direct_remote_ip: the socket's peer; remote_ip: after XFF.
  EXPECT_TRUE(Matches(kAny, "{source_ip: {address_prefix: 10.1.2.3, prefix_len: 32}}"));
  EXPECT_TRUE(Matches(kAny, "{direct_remote_ip: {address_prefix: 10.1.0.0, prefix_len: 16}}"));
  EXPECT_FALSE(Matches(kAny, "{direct_remote_ip: {address_prefix: 192.168.0.0, prefix_len: 16}}"));
  EXPECT_TRUE(Matches(kAny, "{remote_ip: {address_prefix: 192.168.0.0, prefix_len: 16}}"));
  EXPECT_FALSE(Matches(kAny, "{remote_ip: {address_prefix: 10.1.0.0, prefix_len: 16}}"));
  // prefix_len 0 matches every address of the family, none of the other.
  EXPECT_TRUE(Matches(kAny, "{remote_ip: {address_prefix: 0.0.0.0, prefix_len: 0}}"));
  EXPECT_FALSE(Matches(kAny, "{remote_ip: {address_prefix: '::', prefix_len: 0}}"));
}

TEST(RbacEngineTest, Ipv6Addresses) {
  Request r;
  r.info.downstream_direct_remote_address = "[fd00::5]:1234";
  EXPECT_TRUE(Matches(kAny, "{direct_remote_ip: {address_prefix: 'fd00::', prefix_len: 64}}", r));
  EXPECT_FALSE(Matches(kAny, "{direct_remote_ip: {address_prefix: 'fd01::', prefix_len: 64}}", r));
  EXPECT_FALSE(Matches(kAny, "{direct_remote_ip: {address_prefix: 'fd00::', prefix_len: 9}}", [] {
    Request x;
    x.info.downstream_direct_remote_address = "[fe00::5]:1";
    return x;
  }()));
}

TEST(RbacEngineTest, AuthenticatedPrincipalIsThePeerUriSan) {
  Request r;
  const std::string principal =
      "{authenticated: {principal_name: {exact: "
      "'spiffe://cluster.local/ns/default/sa/productpage'}}}";
  EXPECT_FALSE(Matches(kAny, principal, r));  // no TLS: nobody is authenticated
  EXPECT_FALSE(Matches(kAny, "{authenticated: {}}", r));
  r.info.downstream_peer_uri_san = "spiffe://cluster.local/ns/default/sa/productpage";
  EXPECT_TRUE(Matches(kAny, principal, r));
  EXPECT_TRUE(Matches(kAny, "{authenticated: {}}", r));
  r.info.downstream_peer_uri_san = "spiffe://cluster.local/ns/default/sa/reviews";
  EXPECT_FALSE(Matches(kAny, principal, r));
}

TEST(RbacEngineTest, MetadataPrincipalReadsDynamicMetadata) {
  Request r;
  const std::string by_principal =
      "{metadata: {filter: istio_authn, path: [{key: request.auth.principal}], "
      "value: {string_match: {exact: 'https://issuer.test/alice'}}}}";
  const std::string by_group =
      "{metadata: {filter: istio_authn, path: [{key: request.auth.claims}, {key: groups}], "
      "value: {list_match: {one_of: {string_match: {exact: admins}}}}}}";
  EXPECT_FALSE(Matches(kAny, by_principal, r));
  EXPECT_FALSE(Matches(kAny, by_group, r));
  r.info.dynamic_metadata["istio_authn"]["request.auth.principal"] = {"https://issuer.test/alice"};
  r.info.dynamic_metadata["istio_authn"]["request.auth.claims.groups"] = {"dev", "admins"};
  EXPECT_TRUE(Matches(kAny, by_principal, r));
  EXPECT_TRUE(Matches(kAny, by_group, r));
  EXPECT_TRUE(Matches(kAny,
                      "{metadata: {filter: istio_authn, path: [{key: request.auth.principal}], "
                      "value: {present_match: true}}}",
                      r));
  EXPECT_FALSE(Matches(kAny,
                       "{metadata: {filter: istio_authn, path: [{key: request.auth.principal}], "
                       "value: {present_match: true}, invert: true}}",
                       r));
}

TEST(RbacEngineTest, AndOrNot) {
  const std::string get = "{header: {name: ':method', string_match: {exact: GET}}}";
  const std::string post = "{header: {name: ':method', string_match: {exact: POST}}}";
  EXPECT_TRUE(Matches("{and_rules: {rules: [" + get + ", {destination_port: 8080}]}}", kAny));
  EXPECT_FALSE(Matches("{and_rules: {rules: [" + get + ", {destination_port: 1}]}}", kAny));
  EXPECT_TRUE(Matches("{or_rules: {rules: [" + post + ", {destination_port: 8080}]}}", kAny));
  EXPECT_FALSE(Matches("{or_rules: {rules: [" + post + ", {destination_port: 1}]}}", kAny));
  EXPECT_TRUE(Matches("{not_rule: " + post + "}", kAny));
  EXPECT_FALSE(Matches("{not_rule: " + get + "}", kAny));
  const std::string mine = "{remote_ip: {address_prefix: 192.168.7.7, prefix_len: 32}}";
  EXPECT_TRUE(Matches(kAny, "{and_ids: {ids: [" + mine + ", {any: true}]}}"));
  EXPECT_FALSE(Matches(kAny, "{and_ids: {ids: [" + mine + ", {not_id: {any: true}}]}}"));
  EXPECT_TRUE(Matches(kAny, "{or_ids: {ids: [{not_id: {any: true}}, " + mine + "]}}"));
  EXPECT_FALSE(Matches(kAny, "{not_id: " + mine + "}"));
  // A header principal, a url_path principal.
  EXPECT_TRUE(Matches(kAny, "{header: {name: ':authority', string_match: {exact: shop.test}}}"));
  EXPECT_TRUE(Matches(kAny, "{url_path: {path: {prefix: /api}}}"));
}

TEST(RbacEngineTest, PolicyNeedsAPermissionAndAPrincipal) {
  // Any permission of the policy AND any principal of it.
  auto config = Load(R"Y(          rules:
            policies:
              p:
                permissions: [{destination_port: 1}, {destination_port: 8080}]
                principals: [{remote_ip: {address_prefix: 1.1.1.1, prefix_len: 32}}]
              q:
                permissions: [{destination_port: 1}]
                principals: [{any: true}]
)Y");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE((*config)->rules->Evaluate(Request().View()).allowed);
}

TEST(RbacEngineTest, AllowDenyLog) {
  const std::string get = "{header: {name: ':method', string_match: {exact: GET}}}";
  Request r;
  auto allow = Load(OnePolicy("ALLOW", get, kAny));
  auto deny = Load(OnePolicy("DENY", get, kAny));
  auto log = Load(OnePolicy("LOG", get, kAny));
  ASSERT_TRUE(allow.ok() && deny.ok() && log.ok());
  auto result = (*allow)->rules->Evaluate(r.View());
  EXPECT_TRUE(result.allowed);
  ASSERT_NE(result.matched_policy, nullptr);
  EXPECT_EQ(*result.matched_policy, "p");
  result = (*deny)->rules->Evaluate(r.View());
  EXPECT_FALSE(result.allowed);
  ASSERT_NE(result.matched_policy, nullptr);
  result = (*log)->rules->Evaluate(r.View());
  EXPECT_TRUE(result.allowed);
  EXPECT_NE(result.matched_policy, nullptr);  // the LOG match marks the request

  r.headers.Set(":method", "POST");
  EXPECT_FALSE((*allow)->rules->Evaluate(r.View()).allowed);
  EXPECT_TRUE((*deny)->rules->Evaluate(r.View()).allowed);
  EXPECT_EQ((*log)->rules->Evaluate(r.View()).matched_policy, nullptr);
}

TEST(RbacEngineTest, NoPoliciesAllowDeniesAllDenyAllowsAll) {
  auto allow = Load("          rules: {action: ALLOW}\n");
  auto deny = Load("          rules: {action: DENY}\n");
  ASSERT_TRUE(allow.ok()) << allow.status();
  ASSERT_TRUE(deny.ok()) << deny.status();
  EXPECT_FALSE((*allow)->rules->Evaluate(Request().View()).allowed);
  EXPECT_TRUE((*deny)->rules->Evaluate(Request().View()).allowed);
  // No rules at all: the filter enforces nothing.
  auto none = Load("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ((*none)->rules, nullptr);
}

TEST(RbacEngineTest, MatchedPolicyIsTheFirstByName) {
  auto config = Load(R"Y(          rules:
            action: DENY
            policies:
              zeta: {permissions: [{any: true}], principals: [{any: true}]}
              alpha: {permissions: [{any: true}], principals: [{any: true}]}
)Y");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto result = (*config)->rules->Evaluate(Request().View());
  ASSERT_NE(result.matched_policy, nullptr);
  EXPECT_EQ(*result.matched_policy, "alpha");
}

TEST(NetworkRbacTest, DecidesByAddressesAndCountsEnvoysStats) {
  auto config = Load(OnePolicy("ALLOW", "{destination_port: 15001}",
                               "{direct_remote_ip: {address_prefix: 127.0.0.0, prefix_len: 8}}") +
                     "          shadow_rules: {action: DENY}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)->allowed_stat, "tcp.rbac.allowed");
  EXPECT_EQ((*config)->shadow_allowed_stat, "tcp.rbac.shadow_allowed");
  stats::Store store;
  const std::vector<std::shared_ptr<const rbac::RbacConfig>> rbacs = {*config};
  auto addr = [](const char* ip, uint32_t port) { return *network::MakeAddress(ip, port); };
  EXPECT_TRUE(filters::NetworkRbacAllows(rbacs, addr("127.0.0.1", 15001), addr("127.0.0.2", 5000),
                                         {}, {}, store));
  EXPECT_FALSE(filters::NetworkRbacAllows(rbacs, addr("127.0.0.1", 15002), addr("127.0.0.2", 5000),
                                          {}, {}, store));
  EXPECT_FALSE(filters::NetworkRbacAllows(rbacs, addr("127.0.0.1", 15001), addr("10.0.0.2", 5000),
                                          {}, {}, store));
  EXPECT_EQ(store.counter("tcp.rbac.allowed").value(), 1u);
  EXPECT_EQ(store.counter("tcp.rbac.denied").value(), 2u);
  EXPECT_EQ(store.counter("tcp.rbac.shadow_allowed").value(), 3u);
  // Header rules never match a connection.
  auto header = Load(OnePolicy("ALLOW", "{header: {name: ':method', present_match: true}}", kAny));
  ASSERT_TRUE(header.ok());
  EXPECT_FALSE(filters::NetworkRbacAllows({*header}, addr("127.0.0.1", 1), addr("127.0.0.1", 2), {},
                                          {}, store));
}

TEST(RbacConfigTest, RefusesWhatIsNotEvaluatedWithItsPath) {
  auto cel = Load(R"Y(          rules:
            policies:
              p:
                permissions: [{any: true}]
                principals: [{any: true}]
                condition: {const_expr: {bool_value: true}}
)Y");
  ASSERT_FALSE(cel.ok());
  EXPECT_THAT(std::string(cel.status().message()), HasSubstr("condition"));
  auto empty_principals = Load(R"Y(          rules:
            policies:
              p: {permissions: [{any: true}]}
)Y");
  ASSERT_FALSE(empty_principals.ok());
  EXPECT_THAT(std::string(empty_principals.status().message()),
              HasSubstr("rules.policies[p].principals"));
  auto bad_cidr = Load(OnePolicy("ALLOW", kAny, "{remote_ip: {address_prefix: nope}}"));
  ASSERT_FALSE(bad_cidr.ok());
  EXPECT_THAT(std::string(bad_cidr.status().message()),
              HasSubstr("principals[0].remote_ip.address_prefix"));
  auto any_false = Load(OnePolicy("ALLOW", kAny, "{any: false}"));
  ASSERT_FALSE(any_false.ok());
  EXPECT_THAT(std::string(any_false.status().message()), HasSubstr("principals[0].any"));
  auto bool_value = Load(OnePolicy(
      "ALLOW", kAny, "{metadata: {filter: f, path: [{key: k}], value: {bool_match: true}}}"));
  ASSERT_FALSE(bool_value.ok());
  EXPECT_THAT(std::string(bool_value.status().message()), HasSubstr("bool_match"));
}

TEST(RbacConfigTest, NetworkRbacMustPrecedeATerminalFilter) {
  auto b = LoadBootstrapFromString(R"Y(
static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 15001}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
          stat_prefix: tcp
)Y");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("filters[0]"));
}

}  // namespace
}  // namespace weft::config
