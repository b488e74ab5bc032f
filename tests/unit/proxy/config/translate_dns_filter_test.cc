// UDP listeners with envoy.filters.udp.dns_filter, from a bootstrap: what is taken, what is
// refused (with its path).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

std::string DnsBootstrap(const std::string& filter_extra, const std::string& listener_extra = "") {
  return R"Y(
static_resources:
  listeners:
  - name: dns
    address: {socket_address: {protocol: UDP, address: 127.0.0.1, port_value: 15053}}
    udp_listener_config: {}
    )Y" + listener_extra +
         R"Y(
    listener_filters:
    - name: envoy.filters.udp.dns_filter
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig
        stat_prefix: dns
        )Y" +
         filter_extra + "\n";
}

const std::string kTable = R"Y(server_config:
          inline_dns_table:
            virtual_domains:
            - name: Reviews.default.svc.cluster.local.
              endpoint: {address_list: {address: [240.240.0.1, "fd00::1"]}}
              answer_ttl: 30s
            - name: ratings
              endpoint: {address_list: {address: [240.240.0.2]}}
            known_suffixes: [{suffix: cluster.local}]
        client_config: {resolver_timeout: 2s, max_pending_lookups: 64, upstream_resolvers: [{socket_address: {address: 10.0.0.53, port_value: 5353}}]})Y";

TEST(TranslateDnsFilterTest, UdpListenerWithInlineTable) {
  auto b = LoadBootstrapFromString(DnsBootstrap(kTable));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->listeners.size(), 1u);
  const auto& l = b->listeners[0];
  EXPECT_TRUE(l.udp);
  EXPECT_EQ(l.port, 15053u);
  ASSERT_TRUE(l.dns_filter.has_value());
  const auto& d = *l.dns_filter;
  EXPECT_EQ(d.stat_prefix, "dns");
  ASSERT_EQ(d.virtual_domains.size(), 2u);
  EXPECT_EQ(d.virtual_domains[0].name, "reviews.default.svc.cluster.local");  // lower, no dot
  EXPECT_EQ(d.virtual_domains[0].addresses.size(), 2u);
  EXPECT_EQ(d.virtual_domains[0].answer_ttl, std::chrono::seconds(30));
  EXPECT_EQ(d.virtual_domains[1].answer_ttl, std::chrono::seconds(300));  // Envoy's default
  ASSERT_EQ(d.known_suffixes.size(), 1u);
  EXPECT_EQ(d.known_suffixes[0].value, "cluster.local");
  EXPECT_EQ(d.resolver_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(d.max_pending_lookups, 64u);
  ASSERT_EQ(d.upstream_resolvers.size(), 1u);
  EXPECT_EQ(d.upstream_resolvers[0].ip, "10.0.0.53");
  EXPECT_EQ(d.upstream_resolvers[0].port, 5353u);
}

TEST(TranslateDnsFilterTest, DefaultsWithoutClientConfig) {
  auto b = LoadBootstrapFromString(DnsBootstrap("server_config: {inline_dns_table: {}}"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->listeners[0].dns_filter->resolver_timeout, std::chrono::milliseconds(5000));
  EXPECT_TRUE(b->listeners[0].dns_filter->upstream_resolvers.empty());
}

TEST(TranslateDnsFilterTest, RefusesWhatItDoesNotImplementWithThePath) {
  struct Case {
    std::string filter_extra;
    std::string listener_extra;
    std::string want;
  };
  const Case cases[] = {
      {"server_config: {inline_dns_table: {external_retry_count: 3}}", "",
       "inline_dns_table.external_retry_count"},
      {"server_config: {inline_dns_table: {virtual_domains: [{name: a, endpoint: {cluster_name: "
       "c}}]}}",
       "", "endpoint.cluster_name"},
      {"server_config: {inline_dns_table: {virtual_domains: [{name: a, endpoint: {address_list: "
       "{address: [not-an-ip]}}}]}}",
       "", "virtual_domains[0].endpoint.address_list.address[0]"},
      {"client_config: {dns_resolution_config: {}}", "", "client_config.dns_resolution_config"},
      {"server_config: {external_dns_table: {filename: /x}}", "",
       "server_config.external_dns_table"},
      {"", "use_original_dst: true", "use_original_dst"},
      {"", "filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy}]}]",
       "filter_chains"},
  };
  for (const auto& c : cases) {
    auto b = LoadBootstrapFromString(DnsBootstrap(c.filter_extra, c.listener_extra));
    ASSERT_FALSE(b.ok()) << c.want;
    EXPECT_THAT(std::string(b.status().message()), HasSubstr(c.want));
  }
}

TEST(TranslateDnsFilterTest, DnsFilterOnlyOnUdpAndUdpListenerConfigOnlyOnUdp) {
  auto b = LoadBootstrapFromString(R"Y(
static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: 127.0.0.1, port_value: 15053}}
    listener_filters:
    - name: envoy.filters.udp.dns_filter
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig
        stat_prefix: dns
    filter_chains: [{filters: [{name: envoy.filters.network.tcp_proxy, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: c}}]}]
)Y");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("listener_filters[0]"));
}

}  // namespace
}  // namespace weft::config
