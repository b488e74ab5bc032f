// Translation of the resilience fields: retry policies, mirrors, max stream duration, circuit
// breakers, and the fault / local rate limit filters (listener-level and per route).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"
#include "proxy/filters/fault.h"
#include "proxy/filters/local_ratelimit.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;
using Ms = std::chrono::milliseconds;

std::string Bootstrap(const std::string& route, const std::string& filters = "",
                      const std::string& cluster_extra = "") {
  return R"Y(
static_resources:
  listeners:
  - name: l0
    address: {socket_address: {address: 127.0.0.1, port_value: 10000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          http_filters:
)Y" + filters +
         R"Y(
          - name: envoy.filters.http.router
          route_config:
            virtual_hosts:
            - name: vh
              domains: ["*"]
              routes:
)Y" + route +
         R"Y(
  clusters:
  - name: backend
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
)Y" + cluster_extra;
}

const listener::HttpConnectionManagerConfig& Hcm(const BootstrapConfig& c) {
  return std::get<listener::HttpConnectionManagerConfig>(
      c.listeners.at(0).filter_chains.at(0).filter);
}

std::string ErrorOf(const std::string& yaml) {
  auto result = LoadBootstrapFromString(yaml);
  EXPECT_FALSE(result.ok()) << "loaded unexpectedly";
  return result.ok() ? "" : std::string(result.status().message());
}

TEST(TranslateResilienceTest, RetryPolicyMirrorsAndDurations) {
  auto c = LoadBootstrapFromString(Bootstrap(R"Y(
              - match: {prefix: /}
                route:
                  cluster: backend
                  retry_policy:
                    retry_on: "5xx, connect-failure,retriable-status-codes,unavailable"
                    num_retries: 4
                    per_try_timeout: 0.25s
                    retry_back_off: {base_interval: 0.1s}
                    retriable_status_codes: [409, 418]
                    retry_host_predicate: [{name: envoy.retry_host_predicates.previous_hosts}]
                    host_selection_retry_max_attempts: 3
                  request_mirror_policies:
                  - cluster: backend
                    runtime_fraction: {default_value: {numerator: 25, denominator: TEN_THOUSAND}}
                  max_stream_duration: {max_stream_duration: 2s, grpc_timeout_header_max: 10s}
)Y"));
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& action =
      std::get<router::RouteAction>(Hcm(*c).route_config->virtual_hosts.at(0).routes.at(0).action);
  ASSERT_TRUE(action.retry_policy);
  const router::RetryPolicy& r = *action.retry_policy;
  EXPECT_EQ(r.retry_on, router::RetryPolicy::k5xx | router::RetryPolicy::kConnectFailure |
                            router::RetryPolicy::kRetriableStatusCodes |
                            router::RetryPolicy::kGrpcUnavailable);
  EXPECT_EQ(r.num_retries, 4u);
  EXPECT_EQ(r.per_try_timeout, Ms(250));
  EXPECT_EQ(r.base_interval, Ms(100));
  EXPECT_EQ(r.max_interval, Ms(1000));  // 10 x base_interval, Envoy's default
  EXPECT_THAT(r.retriable_status_codes, ::testing::ElementsAre(409u, 418u));
  EXPECT_TRUE(r.previous_hosts);
  EXPECT_EQ(r.host_selection_retry_max_attempts, 3u);
  ASSERT_EQ(action.request_mirror_policies.size(), 1u);
  EXPECT_EQ(action.request_mirror_policies[0].runtime_fraction->numerator, 25u);
  EXPECT_EQ(action.request_mirror_policies[0].runtime_fraction->denominator, 10000u);
  EXPECT_EQ(*action.max_stream_duration.max_stream_duration, Ms(2000));
  EXPECT_EQ(*action.max_stream_duration.grpc_timeout_header_max, Ms(10000));
}

TEST(TranslateResilienceTest, VirtualHostRetryPolicyIsTheDefault) {
  std::string yaml = Bootstrap(R"Y(
              - match: {prefix: /own}
                route: {cluster: backend, retry_policy: {retry_on: reset, num_retries: 7}}
              - match: {prefix: /}
                route: {cluster: backend}
              retry_policy: {retry_on: gateway-error}
)Y");
  auto c = LoadBootstrapFromString(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& routes = Hcm(*c).route_config->virtual_hosts.at(0).routes;
  EXPECT_EQ(std::get<router::RouteAction>(routes[0].action).retry_policy->num_retries, 7u);
  const auto& inherited = *std::get<router::RouteAction>(routes[1].action).retry_policy;
  EXPECT_EQ(inherited.retry_on, router::RetryPolicy::kGatewayError);
  EXPECT_EQ(inherited.num_retries, 1u);  // Envoy's default
}

TEST(TranslateResilienceTest, RefusesUnknownRetryCondition) {
  EXPECT_THAT(ErrorOf(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend, retry_policy: {retry_on: "5xx,sometimes"}}
)Y")),
              HasSubstr("routes[0].route.retry_policy.retry_on: unknown retry condition "
                        "\"sometimes\""));
}

TEST(TranslateResilienceTest, FaultAndRateLimitFiltersAndPerRouteConfigs) {
  auto c = LoadBootstrapFromString(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
                typed_per_filter_config:
                  envoy.filters.http.fault:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                    abort: {grpc_status: 14, percentage: {numerator: 50}}
                    delay: {fixed_delay: 1s, percentage: {numerator: 10, denominator: MILLION}}
                    max_active_faults: 5
)Y",
                                             R"Y(
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: {http_status: 503, percentage: {numerator: 100}}
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: rl
              status: {code: ServiceUnavailable}
              token_bucket: {max_tokens: 10, tokens_per_fill: 2, fill_interval: 1s}
              filter_enabled: {default_value: {numerator: 100}}
)Y"));
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& filters = Hcm(*c).http_filters;
  ASSERT_EQ(filters.size(), 3u);
  EXPECT_EQ(filters[0].name, "envoy.filters.http.fault");
  EXPECT_NE(filters[0].factory, nullptr);
  EXPECT_NE(filters[1].factory, nullptr);
  EXPECT_EQ(filters[2].factory, nullptr);  // the router is the stream's own last step
  const auto& per_route = Hcm(*c).route_config->virtual_hosts.at(0).routes.at(0).per_filter_config;
  ASSERT_EQ(per_route.count("envoy.filters.http.fault"), 1u);
  const auto* fault =
      dynamic_cast<const filters::FaultConfig*>(per_route.at("envoy.filters.http.fault").get());
  ASSERT_NE(fault, nullptr);
  EXPECT_EQ(*fault->abort->grpc_status, 14u);
  EXPECT_EQ(fault->abort->percentage.numerator, 50u);
  EXPECT_EQ(*fault->delay->fixed_delay, Ms(1000));
  EXPECT_EQ(fault->delay->percentage.denominator, 1000000u);
  EXPECT_EQ(*fault->max_active_faults, 5u);
}

TEST(TranslateResilienceTest, RefusesBadFilterConfigsWithTheirPath) {
  EXPECT_THAT(ErrorOf(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
)Y",
                                R"Y(
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: rl
              token_bucket: {max_tokens: 10, fill_interval: 0.01s}
)Y")),
              HasSubstr("http_filters[0].typed_config.token_bucket.fill_interval: must be at "
                        "least 50ms"));
  // Fields Weft does not implement are refused, not ignored.
  EXPECT_THAT(ErrorOf(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
)Y",
                                R"Y(
          - name: envoy.filters.http.fault
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              response_rate_limit: {fixed_limit: {limit_kbps: 1}}
)Y")),
              HasSubstr("response_rate_limit"));
  // The router is terminal.
  EXPECT_THAT(ErrorOf(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
)Y",
                                R"Y(
          - name: envoy.filters.http.router
)Y")),
              HasSubstr("must be the last filter"));
}

TEST(TranslateResilienceTest, CircuitBreakers) {
  auto c = LoadBootstrapFromString(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
)Y",
                                             "", R"Y(
    circuit_breakers:
      thresholds:
      - max_connections: 7
        max_pending_requests: 8
        max_requests: 9
        retry_budget: {budget_percent: {value: 25}, min_retry_concurrency: 2}
)Y"));
  ASSERT_TRUE(c.ok()) << c.status();
  const upstream::ClusterConfig& cluster = *c->clusters.at(0);
  EXPECT_EQ(cluster.circuit_breakers.max_connections, 7u);
  EXPECT_EQ(cluster.circuit_breakers.max_pending_requests, 8u);
  EXPECT_EQ(cluster.circuit_breakers.max_requests, 9u);
  EXPECT_EQ(cluster.circuit_breakers.max_retries, 3u);  // Envoy's default
  ASSERT_TRUE(cluster.circuit_breakers.retry_budget);
  EXPECT_DOUBLE_EQ(cluster.circuit_breakers.retry_budget->budget_percent, 25.0);
  EXPECT_EQ(cluster.resources->requests.max(), 9u);

  EXPECT_THAT(ErrorOf(Bootstrap(R"Y(
              - match: {prefix: /}
                route: {cluster: backend}
)Y",
                                "", R"Y(
    circuit_breakers: {thresholds: [{priority: HIGH, max_requests: 1}]}
)Y")),
              HasSubstr("circuit_breakers.thresholds[0].priority: only DEFAULT is supported"));
}

}  // namespace
}  // namespace weft::config
