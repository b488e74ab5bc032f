#include "proxy/server/listener_runtime.h"

#include <gtest/gtest.h>

namespace weft::proxy {
namespace {

listener::FilterChain TcpChain(const std::string& name) {
  listener::FilterChain c;
  c.name = name;
  listener::TcpProxyConfig tcp;
  tcp.cluster = "x";
  c.filter = tcp;
  return c;
}

network::Address Addr(const char* ip, uint32_t port) { return *network::MakeAddress(ip, port); }

TEST(ListenerRuntimeTest, MostSpecificChainWins) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->name = "l";
  config->address = "127.0.0.1";
  config->port = 15001;
  config->filter_chains.push_back(TcpChain("any"));
  auto port_chain = TcpChain("port-9080");
  port_chain.match.destination_port = 9080;
  config->filter_chains.push_back(port_chain);
  auto cidr_chain = TcpChain("port-9080-10.1");
  cidr_chain.match.destination_port = 9080;
  cidr_chain.match.prefix_ranges.push_back(*network::Cidr::Parse("10.1.0.0", 16));
  config->filter_chains.push_back(cidr_chain);
  auto sni_chain = TcpChain("needs-sni");
  sni_chain.match.server_names.push_back("a.example.com");
  config->filter_chains.push_back(sni_chain);

  auto rt = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt.ok()) << rt.status();
  auto pick = [&](const char* ip, uint32_t port) {
    const FilterChainRuntime* c = (*rt)->SelectChain(Addr(ip, port), Addr("127.0.0.1", 5555));
    return c ? c->config->name : std::string("<none>");
  };
  EXPECT_EQ(pick("10.1.2.3", 9080), "port-9080-10.1");
  EXPECT_EQ(pick("10.2.2.3", 9080), "port-9080");
  EXPECT_EQ(pick("10.1.2.3", 80), "any");
  EXPECT_EQ((*rt)->stat_prefix, "listener.127.0.0.1_15001.");
}

TEST(ListenerRuntimeTest, NoMatchFallsBackToDefaultChainOrNothing) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->address = "0.0.0.0";
  config->port = 80;
  auto only_443 = TcpChain("443");
  only_443.match.destination_port = 443;
  config->filter_chains.push_back(only_443);
  auto rt = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ((*rt)->SelectChain(Addr("1.2.3.4", 80), Addr("5.6.7.8", 1)), nullptr);
  config->default_filter_chain = TcpChain("default");
  auto rt2 = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt2.ok());
  EXPECT_EQ((*rt2)->SelectChain(Addr("1.2.3.4", 80), Addr("5.6.7.8", 1))->config->name, "default");
}

}  // namespace
}  // namespace weft::proxy

namespace weft::proxy {
namespace {

TEST(ListenerRuntimeTest, ApplicationProtocolsNeedTheHttpInspector) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->address = "0.0.0.0";
  config->port = 15006;
  listener::FilterChain http;
  http.name = "http";
  http.match.application_protocols = {"http/1.1", "h2c"};
  http.filter = listener::TcpProxyConfig{};
  listener::FilterChain tcp;
  tcp.name = "tcp";
  tcp.filter = listener::TcpProxyConfig{};
  config->filter_chains = {http, tcp};
  auto without = ListenerRuntime::Build(config);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE((*without)->inspect_http);
  config->http_inspector = true;
  auto rt = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt.ok());
  EXPECT_TRUE((*rt)->inspect_http);
  auto local = *network::MakeAddress("10.0.0.1", 15006);
  auto remote = *network::MakeAddress("10.0.0.2", 4000);
  EXPECT_EQ((*rt)->SelectChain(local, remote, "http/1.1")->config->name, "http");
  EXPECT_EQ((*rt)->SelectChain(local, remote, "h2c")->config->name, "http");
  EXPECT_EQ((*rt)->SelectChain(local, remote, "")->config->name, "tcp");
}

// One port, PERMISSIVE as Istio writes it: an mTLS chain (transport_protocol tls + the mesh
// ALPNs), a plaintext chain, and a chain chosen by SNI.
TEST(ListenerRuntimeTest, TlsInspectorFactsChooseTheChain) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->address = "0.0.0.0";
  config->port = 15006;
  config->tls_inspector = true;
  auto mtls = TcpChain("mtls");
  mtls.match.transport_protocol = "tls";
  mtls.match.application_protocols = {"istio", "istio-http/1.1"};
  auto plain = TcpChain("plain");
  plain.match.transport_protocol = "raw_buffer";
  auto exact = TcpChain("exact");
  exact.match.server_names = {"api.example.com"};
  auto wild = TcpChain("wild");
  wild.match.server_names = {"*.example.com"};
  auto wider = TcpChain("wider");
  wider.match.server_names = {"*.com"};
  config->filter_chains = {mtls, plain, exact, wild, wider};
  auto rt = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt.ok());
  EXPECT_TRUE((*rt)->inspect_tls);
  auto local = *network::MakeAddress("10.0.0.1", 15006);
  auto remote = *network::MakeAddress("10.0.0.2", 4000);
  auto pick = [&](std::string_view transport, std::string_view sni,
                  std::vector<std::string_view> alpn) {
    ListenerRuntime::DetectedFacts facts{transport, sni, std::move(alpn)};
    const FilterChainRuntime* c = (*rt)->SelectChain(local, remote, facts);
    return c ? c->config->name : std::string("<none>");
  };
  EXPECT_EQ(pick("tls", "", {"h2", "istio-http/1.1"}), "mtls");  // any overlap
  EXPECT_EQ(pick("", "", {}), "plain");
  EXPECT_EQ(pick("", "", {"http/1.1"}), "plain");
  EXPECT_EQ(pick("tls", "", {"h2"}), "<none>");  // TLS without the mesh ALPN: no chain
  EXPECT_EQ(pick("tls", "api.example.com", {}), "exact");
  EXPECT_EQ(pick("tls", "www.example.com", {}), "wild");
  EXPECT_EQ(pick("tls", "a.b.example.com", {}), "wild");  // a wildcard matches any depth
  EXPECT_EQ(pick("tls", "x.org.com", {}), "wider");
  // "*.example.com" does not match "example.com"; "*.com" does.
  EXPECT_EQ(pick("tls", "example.com", {}), "wider");
  // The server-name level is decided before ALPN, without backtracking (Envoy's tree): an SNI
  // that picks a server_names chain never falls back to the mTLS chain.
  EXPECT_EQ(pick("tls", "api.example.com", {"istio"}), "exact");
}

TEST(ListenerRuntimeTest, NoBacktrackingToALessSpecificLevel) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->address = "0.0.0.0";
  config->port = 443;
  auto sni_h2 = TcpChain("sni-h2");
  sni_h2.match.server_names = {"a.example.com"};
  sni_h2.match.application_protocols = {"h2"};
  auto any = TcpChain("any");
  config->filter_chains = {sni_h2, any};
  auto rt = ListenerRuntime::Build(config);
  ASSERT_TRUE(rt.ok());
  auto local = *network::MakeAddress("10.0.0.1", 443);
  auto remote = *network::MakeAddress("10.0.0.2", 4000);
  ListenerRuntime::DetectedFacts facts{"tls", "a.example.com", {"http/1.1"}};
  EXPECT_EQ((*rt)->SelectChain(local, remote, facts), nullptr);
  facts.application_protocols = {"h2"};
  EXPECT_EQ((*rt)->SelectChain(local, remote, facts)->config->name, "sni-h2");
  facts.server_name = "b.example.com";
  EXPECT_EQ((*rt)->SelectChain(local, remote, facts)->config->name, "any");
}

std::shared_ptr<const router::RouteTable> NamedTable(const std::string& name) {
  auto config = std::make_shared<router::RouteConfiguration>();
  config->name = name;
  return *router::RouteTable::Create(config);
}

TEST(ListenerRuntimeTest, RdsChainsRouteByTheSharedSwappableTable) {
  auto config = std::make_shared<listener::ListenerConfig>();
  config->address = "127.0.0.1";
  config->port = 8080;
  listener::FilterChain chain;
  listener::HttpConnectionManagerConfig hcm;
  hcm.stat_prefix = "ingress";
  hcm.rds_route_config_name = "web-routes";
  chain.filter = hcm;
  config->filter_chains.push_back(chain);

  auto rds = std::make_shared<router::RdsRouteTable>("web-routes", 1, NamedTable("v1"));
  std::vector<std::string> asked;
  auto rt = ListenerRuntime::Build(config, [&](const std::string& name) {
    asked.push_back(name);
    return rds;
  });
  ASSERT_TRUE(rt.ok()) << rt.status();
  EXPECT_EQ(asked, std::vector<std::string>{"web-routes"});
  const HcmRuntime& runtime = *(*rt)->chains[0].hcm;
  ASSERT_EQ(runtime.rds, rds);

  std::shared_ptr<const router::RouteTable> first_stream;
  EXPECT_EQ(runtime.RoutesForStream(0, first_stream).config().name, "v1");
  rds->Set(0, NamedTable("v2"));  // an RDS update reaches the worker
  std::shared_ptr<const router::RouteTable> next_stream;
  EXPECT_EQ(runtime.RoutesForStream(0, next_stream).config().name, "v2");
  EXPECT_EQ(first_stream->config().name, "v1") << "a stream keeps the table it started with";

  // Without a lookup (or for inline route_config) the chain's own table serves, unpinned.
  auto fixed = ListenerRuntime::Build(config);
  ASSERT_TRUE(fixed.ok());
  std::shared_ptr<const router::RouteTable> pin;
  EXPECT_EQ((*fixed)->chains[0].hcm->rds, nullptr);
  (*fixed)->chains[0].hcm->RoutesForStream(0, pin);
  EXPECT_EQ(pin, nullptr);
}

}  // namespace
}  // namespace weft::proxy
