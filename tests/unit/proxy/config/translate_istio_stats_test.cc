// istio.stats in a bootstrap: the TypedStruct forms Istio writes, the listener's
// traffic_direction choosing the reporter, and what is refused (with its path).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "proxy/config/bootstrap_loader.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

std::string Bootstrap(const std::string& direction, const std::string& stats_filter) {
  return R"Y(
static_resources:
  listeners:
  - name: l
)Y" + direction +
         R"Y(
    address: {socket_address: {address: 127.0.0.1, port_value: 15006}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          route_config: {virtual_hosts: [{name: x, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
          http_filters:
)Y" + stats_filter +
         R"Y(
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
)Y";
}

std::string StatsFilter(const std::string& wrapper, const std::string& value) {
  return R"Y(          - name: istio.stats
            typed_config:
              "@type": type.googleapis.com/)Y" +
         wrapper + R"Y(
              type_url: type.googleapis.com/stats.PluginConfig
              value: )Y" +
         value + "\n";
}

const filters::FilterFactory* FirstFilter(const BootstrapConfig& b) {
  const auto& hcm =
      std::get<listener::HttpConnectionManagerConfig>(b.listeners.at(0).filter_chains.at(0).filter);
  return hcm.http_filters.at(0).factory.get();
}

TEST(TranslateIstioStatsTest, AcceptsBothTypedStructs) {
  for (const char* wrapper : {"udpa.type.v1.TypedStruct", "xds.type.v3.TypedStruct"}) {
    auto b = LoadBootstrapFromString(Bootstrap(
        "    traffic_direction: INBOUND",
        StatsFilter(wrapper, "{disable_host_header_fallback: true, reporter: UNSPECIFIED}")));
    ASSERT_TRUE(b.ok()) << wrapper << ": " << b.status();
    ASSERT_NE(FirstFilter(*b), nullptr);
    EXPECT_EQ(FirstFilter(*b)->name(), "istio.stats");
  }
}

TEST(TranslateIstioStatsTest, RefusesUnknownFieldsWithTheirPath) {
  auto b = LoadBootstrapFromString(
      Bootstrap("", StatsFilter("xds.type.v3.TypedStruct", "{rotation_interval: 10s}")));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(),
              HasSubstr("http_filters[0].typed_config.value.rotation_interval: not supported"));

  b = LoadBootstrapFromString(
      Bootstrap("", StatsFilter("xds.type.v3.TypedStruct", "{reporter: SERVER_GATEWAY}")));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("value.reporter: only UNSPECIFIED"));

  b = LoadBootstrapFromString(
      Bootstrap("", StatsFilter("xds.type.v3.TypedStruct", "{disable_host_header_fallback: 1}")));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("disable_host_header_fallback: must be a bool"));
}

TEST(TranslateIstioStatsTest, RefusesAnUnknownWrappedType) {
  std::string filter = StatsFilter("xds.type.v3.TypedStruct", "{}");
  filter.replace(filter.find("stats.PluginConfig"), 18, "acme.Plugin");
  auto b = LoadBootstrapFromString(Bootstrap("", filter));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("unsupported extension 'acme.Plugin'"));
}

TEST(TranslateIstioStatsTest, NetworkFilterGoesOnlyBeforeTcpProxy) {
  const std::string tcp = R"Y(
static_resources:
  clusters:
  - name: c
    type: STATIC
    load_assignment:
      cluster_name: c
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9}}}}]}]
  listeners:
  - name: l
    traffic_direction: OUTBOUND
    address: {socket_address: {address: 127.0.0.1, port_value: 15001}}
    filter_chains:
    - filters:
      - name: istio.stats
        typed_config:
          "@type": type.googleapis.com/xds.type.v3.TypedStruct
          type_url: type.googleapis.com/stats.PluginConfig
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: t
          cluster: c
)Y";
  auto b = LoadBootstrapFromString(tcp);
  ASSERT_TRUE(b.ok()) << b.status();
  const auto& chain = b->listeners.at(0).filter_chains.at(0);
  ASSERT_NE(chain.istio_tcp_stats, nullptr);
  EXPECT_FALSE(chain.istio_tcp_stats->reports_as_destination());

  // Before an http_connection_manager it is refused: there it is an HTTP filter.
  std::string http = Bootstrap("", "");
  const std::string marker = "    - filters:\n";
  http.insert(http.find(marker) + marker.size(), R"Y(      - name: istio.stats
        typed_config:
          "@type": type.googleapis.com/xds.type.v3.TypedStruct
          type_url: type.googleapis.com/stats.PluginConfig
)Y");
  b = LoadBootstrapFromString(http);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(),
              HasSubstr("filters[0]: istio.stats as a network filter only goes before tcp_proxy"));
}

}  // namespace
}  // namespace weft::config
