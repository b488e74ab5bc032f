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
  cidr_chain.match.prefix_ranges.push_back({"10.1.0.0", 16});
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

}  // namespace
}  // namespace weft::proxy
