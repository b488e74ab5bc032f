// Health fields of a cluster: health_checks, outlier_detection, healthy_panic_threshold,
// overprovisioning_factor, with Envoy's defaults and refusals that name the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;
using Ms = std::chrono::milliseconds;

std::string Bootstrap(const std::string& cluster_extra) {
  return R"Y(
static_resources:
  clusters:
  - name: backend
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
)Y" + cluster_extra;
}

std::string ErrorOf(const std::string& cluster_extra) {
  auto config = LoadBootstrapFromString(Bootstrap(cluster_extra));
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(TranslateHealthTest, HttpHealthCheckAndDefaults) {
  auto config = LoadBootstrapFromString(Bootstrap(R"Y(
    health_checks:
    - timeout: 2s
      interval: 0.5s
      interval_jitter: 0.1s
      unhealthy_threshold: 3
      healthy_threshold: 2
      healthy_edge_interval: 1s
      http_health_check:
        path: /healthz
        host: svc.local
        expected_statuses: [{start: 200, end: 300}]
        request_headers_to_add: [{header: {key: X-Probe, value: "1"}}]
    common_lb_config: {healthy_panic_threshold: {value: 25}}
)Y"));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& c = *config->clusters[0];
  ASSERT_TRUE(c.health_check.has_value());
  const auto& hc = *c.health_check;
  EXPECT_EQ(hc.kind, upstream::HealthCheckConfig::Kind::kHttp);
  EXPECT_EQ(hc.timeout, Ms(2000));
  EXPECT_EQ(hc.interval, Ms(500));
  EXPECT_EQ(hc.interval_jitter, Ms(100));
  EXPECT_EQ(hc.unhealthy_threshold, 3u);
  EXPECT_EQ(hc.healthy_threshold, 2u);
  EXPECT_EQ(hc.healthy_edge_interval, Ms(1000));
  EXPECT_FALSE(hc.unhealthy_interval.has_value());
  EXPECT_TRUE(hc.reuse_connection);
  EXPECT_EQ(hc.path, "/healthz");
  EXPECT_EQ(hc.host, "svc.local");
  ASSERT_EQ(hc.expected_statuses.size(), 1u);
  EXPECT_EQ(hc.expected_statuses[0], std::make_pair(int64_t{200}, int64_t{300}));
  ASSERT_EQ(hc.request_headers_to_add.size(), 1u);
  EXPECT_EQ(hc.request_headers_to_add[0].first, "x-probe");
  EXPECT_DOUBLE_EQ(c.healthy_panic_threshold, 25);
  EXPECT_EQ(c.overprovisioning_factor, 140u);
  EXPECT_FALSE(c.outlier_detection.has_value());
}

TEST(TranslateHealthTest, TcpHealthCheckDecodesHexPayloads) {
  auto config = LoadBootstrapFromString(Bootstrap(R"Y(
    health_checks:
    - timeout: 1s
      interval: 1s
      unhealthy_threshold: 1
      healthy_threshold: 1
      tcp_health_check: {send: {text: "70696e67"}, receive: [{text: "706F6E67"}]}
)Y"));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& hc = *config->clusters[0]->health_check;
  EXPECT_EQ(hc.kind, upstream::HealthCheckConfig::Kind::kTcp);
  EXPECT_EQ(hc.send, "ping");
  EXPECT_EQ(hc.receive, std::vector<std::string>{"pong"});
}

TEST(TranslateHealthTest, OutlierDetectionDefaultsAndOverrides) {
  auto config = LoadBootstrapFromString(Bootstrap(R"Y(
    outlier_detection:
      consecutive_5xx: 3
      interval: 1s
      max_ejection_percent: 50
      enforcing_consecutive_gateway_failure: 100
      split_external_local_origin_errors: true
)Y"));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& od = *config->clusters[0]->outlier_detection;
  EXPECT_EQ(od.consecutive_5xx, 3u);
  EXPECT_EQ(od.interval, Ms(1000));
  EXPECT_EQ(od.max_ejection_percent, 50u);
  EXPECT_EQ(od.enforcing_consecutive_gateway_failure, 100u);
  EXPECT_TRUE(od.split_external_local_origin_errors);
  // Envoy's defaults for what was not set.
  EXPECT_EQ(od.base_ejection_time, Ms(30000));
  EXPECT_EQ(od.max_ejection_time, Ms(300000));
  EXPECT_EQ(od.consecutive_gateway_failure, 5u);
  EXPECT_EQ(od.success_rate_stdev_factor, 1900u);
  EXPECT_EQ(od.success_rate_minimum_hosts, 5u);
  EXPECT_EQ(od.success_rate_request_volume, 100u);
  EXPECT_EQ(od.failure_percentage_threshold, 85u);
  EXPECT_EQ(od.enforcing_failure_percentage, 0u);
}

TEST(TranslateHealthTest, GrpcHealthCheck) {
  auto config = LoadBootstrapFromString(Bootstrap(R"Y(
    http2_protocol_options: {}
    health_checks:
    - timeout: 1s
      interval: 2s
      unhealthy_threshold: 2
      healthy_threshold: 1
      grpc_health_check:
        service_name: weft.test.Echo
        authority: echo.internal
        initial_metadata: [{header: {key: X-Probe, value: grpc}}]
)Y"));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& hc = *config->clusters[0]->health_check;
  EXPECT_EQ(hc.kind, upstream::HealthCheckConfig::Kind::kGrpc);
  EXPECT_EQ(hc.service_name, "weft.test.Echo");
  EXPECT_EQ(hc.authority, "echo.internal");
  ASSERT_EQ(hc.request_headers_to_add.size(), 1u);
  EXPECT_EQ(hc.request_headers_to_add[0].first, "x-probe");
  EXPECT_EQ(hc.request_headers_to_add[0].second, "grpc");
}

TEST(TranslateHealthTest, RefusesBadValuesWithTheirPath) {
  EXPECT_THAT(ErrorOf(R"Y(
    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, http_health_check: {path: /h}}]
)Y"),
              HasSubstr("clusters[0].health_checks[0].healthy_threshold: is required"));
  EXPECT_THAT(ErrorOf(R"Y(
    health_checks: [{timeout: 1s, interval: 0s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: {path: /h}}]
)Y"),
              HasSubstr("clusters[0].health_checks[0].interval"));
  EXPECT_THAT(ErrorOf(R"Y(
    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {send: {text: "zz"}}}]
)Y"),
              HasSubstr("health_checks[0].tcp_health_check.send.text: must be an even number of "
                        "hex digits"));
  EXPECT_THAT(ErrorOf(R"Y(
    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {}}]
)Y"),
              HasSubstr("clusters[0].health_checks[0].grpc_health_check: needs a cluster that "
                        "speaks HTTP/2 upstream"));
  EXPECT_THAT(ErrorOf(R"Y(
    http2_protocol_options: {}
    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {initial_metadata: [{header: {key: "", value: x}}]}}]
)Y"),
              HasSubstr("grpc_health_check.initial_metadata[0].header.key: is required"));
  EXPECT_THAT(ErrorOf(R"Y(
    health_checks: [{timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: {path: /h, expected_statuses: [{start: 200, end: 700}]}}]
)Y"),
              HasSubstr("http_health_check.expected_statuses[0]: must be a non-empty range"));
  EXPECT_THAT(ErrorOf("    outlier_detection: {max_ejection_percent: 101}\n"),
              HasSubstr("clusters[0].outlier_detection.max_ejection_percent: must be at most 100"));
  EXPECT_THAT(ErrorOf("    outlier_detection: {consecutive_5xx: 0}\n"),
              HasSubstr("clusters[0].outlier_detection.consecutive_5xx: must be at least 1"));
  EXPECT_THAT(ErrorOf("    common_lb_config: {healthy_panic_threshold: {value: 150}}\n"),
              HasSubstr("common_lb_config.healthy_panic_threshold.value: must be within [0, 100]"));
}

}  // namespace
}  // namespace weft::config
