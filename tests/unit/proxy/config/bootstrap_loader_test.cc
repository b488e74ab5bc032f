#include "proxy/config/bootstrap_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace weft::config {
namespace {

using ::testing::HasSubstr;
using Ms = std::chrono::milliseconds;

const std::string kShared = WEFT_SOURCE_DIR "/../shared/conformance/envoy-configs/";

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

void Replace(std::string& s, const std::string& from, const std::string& to) {
  const size_t pos = s.find(from);
  ASSERT_NE(pos, std::string::npos) << from;
  s.replace(pos, from.size(), to);
}

// One HTTP listener and one STATIC cluster "backend"; the placeholders take flow-style YAML.
std::string HttpBootstrap(const std::string& routes, const std::string& hcm_extra = "",
                          const std::string& clusters = "") {
  std::string yaml = R"Y(
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
          http_filters: [{name: envoy.filters.http.router}]
          route_config:
            name: rc
            virtual_hosts:
            - name: vh
              domains: ["*"]
              routes: ROUTES
          HCM_EXTRA
  clusters:
  - name: backend
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]}]
  CLUSTERS
)Y";
  Replace(yaml, "ROUTES", routes);
  Replace(yaml, "HCM_EXTRA", hcm_extra);
  Replace(yaml, "CLUSTERS", clusters);
  return yaml;
}

const std::string kDefaultRoute = R"Y([{match: {prefix: "/"}, route: {cluster: backend}}])Y";

const listener::HttpConnectionManagerConfig& Hcm(const BootstrapConfig& c) {
  return std::get<listener::HttpConnectionManagerConfig>(
      c.listeners.at(0).filter_chains.at(0).filter);
}
const router::Route& FirstRoute(const BootstrapConfig& c) {
  return Hcm(c).route_config->virtual_hosts.at(0).routes.at(0);
}

std::string ErrorOf(const std::string& yaml) {
  auto result = LoadBootstrapFromString(yaml);
  EXPECT_FALSE(result.ok()) << "loaded unexpectedly";
  return result.ok() ? "" : std::string(result.status().message());
}

// --- Envoy's own example configs ---

TEST(BootstrapLoaderTest, LoadsEnvoyDemo) {
  const std::string path = kShared + "envoy-demo.yaml";
  if (!Exists(path)) GTEST_SKIP() << "missing " << path;
  auto config = LoadBootstrapFromFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->listeners.size(), 2u);
  EXPECT_EQ(config->listeners[0].name, "listener_0");
  EXPECT_EQ(config->listeners[0].address, "0.0.0.0");
  EXPECT_EQ(config->listeners[0].port, 10000u);
  const auto& hcm1 =
      std::get<listener::HttpConnectionManagerConfig>(config->listeners[1].filter_chains[0].filter);
  EXPECT_EQ(hcm1.stat_prefix, "loopback_http");
  ASSERT_EQ(hcm1.local_reply.mappers.size(), 1u);
  const auto& mapper = hcm1.local_reply.mappers[0];
  ASSERT_TRUE(mapper.header_filter.has_value());
  EXPECT_EQ(mapper.header_filter->name, ":method");
  EXPECT_EQ(mapper.header_filter->string_match->value, "GET");
  ASSERT_TRUE(mapper.body_format.has_value());
  EXPECT_THAT(*mapper.body_format, HasSubstr("Welcome to Envoy"));
  EXPECT_EQ(mapper.content_type, "text/html; charset=UTF-8");
  ASSERT_EQ(config->clusters.size(), 1u);
  EXPECT_EQ(config->clusters[0]->name, "loopback");
  EXPECT_EQ(config->clusters[0]->localities[0].endpoints[0].port, 10001u);
  EXPECT_THAT(config->config_dump_json, HasSubstr("\"listener_0\""));
}

TEST(BootstrapLoaderTest, LoadsFrontProxy) {
  const std::string path = kShared + "front-proxy_envoy.yaml";
  if (!Exists(path)) GTEST_SKIP() << "missing " << path;
  auto config = LoadBootstrapFromFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->clusters.size(), 2u);
  EXPECT_EQ(config->clusters[0]->type, upstream::DiscoveryType::kStrictDns);
  EXPECT_EQ(config->clusters[0]->localities[0].endpoints[0].address, "service1");
  EXPECT_TRUE(config->admin.enabled);
  EXPECT_EQ(config->admin.port, 8001u);
  const auto& routes = Hcm(*config).route_config->virtual_hosts[0].routes;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[1].match.path, "/service/2");
  EXPECT_EQ(std::get<router::RouteAction>(routes[1].action).cluster, "service2");
  EXPECT_EQ(Hcm(*config).http_filters[0].type_url,
            "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
}

TEST(BootstrapLoaderTest, MissingFileIsNotFound) {
  auto config = LoadBootstrapFromFile("/nonexistent/weft.yaml");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

// --- refusals ---

TEST(BootstrapLoaderTest, RefusesUnknownField) {
  std::string yaml = HttpBootstrap(kDefaultRoute, "no_such_field: 1");
  EXPECT_EQ(ErrorOf(yaml),
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.no_such_field: "
            "unknown field");
}

TEST(BootstrapLoaderTest, RefusesUnsupportedFieldWithFullPath) {
  EXPECT_EQ(ErrorOf(HttpBootstrap(kDefaultRoute, "add_user_agent: true")),
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config."
            "add_user_agent: not supported");
  EXPECT_EQ(ErrorOf("static_resources: {secrets: [{name: s}]}"),
            "static_resources.secrets: not supported");
}

TEST(BootstrapLoaderTest, RefusesUnknownTypedExtension) {
  std::string yaml = HttpBootstrap(kDefaultRoute);
  Replace(yaml, "http_filters: [{name: envoy.filters.http.router}]",
          "http_filters: [{name: f, typed_config: {'@type': "
          "type.googleapis.com/envoy.config.rbac.v3.RBAC}}, "
          "{name: envoy.filters.http.router}]");
  const std::string error = ErrorOf(yaml);
  // A message Weft compiles (the RBAC filters' policies) that is not an extension.
  EXPECT_THAT(error, HasSubstr("http_filters[0].typed_config: unsupported extension "
                               "'envoy.config.rbac.v3.RBAC'"));
}

TEST(BootstrapLoaderTest, RefusesAPerRouteConfigAsAFilter) {
  std::string yaml = HttpBootstrap(kDefaultRoute);
  Replace(yaml, "http_filters: [{name: envoy.filters.http.router}]",
          "http_filters: [{name: f, typed_config: {'@type': "
          "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy}}, "
          "{name: envoy.filters.http.router}]");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("is a per-route http filter config, not a http filter"));
}

TEST(BootstrapLoaderTest, RefusesUnknownNamedFilter) {
  std::string yaml = HttpBootstrap(kDefaultRoute);
  Replace(yaml, "[{name: envoy.filters.http.router}]",
          "[{name: envoy.filters.http.nope}, {name: envoy.filters.http.router}]");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("typed_config.http_filters[0].name: unsupported extension "
                                       "'envoy.filters.http.nope'"));
}

TEST(BootstrapLoaderTest, RefusesExtensionOfTheWrongKind) {
  std::string yaml = HttpBootstrap(kDefaultRoute);
  Replace(yaml, "[{name: envoy.filters.http.router}]",
          "[{name: x, typed_config: {'@type': type.googleapis.com/"
          "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: "
          "backend}}]");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("is a network filter, not a http filter"));
}

TEST(BootstrapLoaderTest, RefusesMissingRouterLast) {
  std::string yaml = HttpBootstrap(kDefaultRoute);
  Replace(yaml, "http_filters: [{name: envoy.filters.http.router}]", "http_filters: []");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("the last http filter must be envoy.filters.http.router"));
}

TEST(BootstrapLoaderTest, RefusesBadRegexWithRe2Error) {
  const std::string error = ErrorOf(
      HttpBootstrap(R"Y([{match: {safe_regex: {regex: "(["}}, route: {cluster: backend}}])Y"));
  EXPECT_THAT(error, HasSubstr("routes[0].match.safe_regex.regex: invalid regex '(['"));
  EXPECT_THAT(error, HasSubstr("missing"));  // RE2's own text
}

TEST(BootstrapLoaderTest, RefusesMissingCluster) {
  EXPECT_EQ(ErrorOf(HttpBootstrap(R"Y([{match: {prefix: "/"}, route: {cluster: nope}}])Y")),
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config."
            "virtual_hosts[0].routes[0].route.cluster: unknown cluster 'nope'");
}

TEST(BootstrapLoaderTest, RefusesDuplicateClusterNames) {
  const std::string dup =
      R"Y(- {name: backend, type: STRICT_DNS, load_assignment: {cluster_name: backend,
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: a.example, port_value: 80}}}}]}]}})Y";
  EXPECT_THAT(ErrorOf(HttpBootstrap(kDefaultRoute, "", dup)),
              HasSubstr("static_resources.clusters[1].name: duplicate cluster name 'backend'"));
}

TEST(BootstrapLoaderTest, RefusesDuplicateListenerNamesAndAddresses) {
  const std::string listener = R"Y(
  - name: NAME
    address: {socket_address: {address: 127.0.0.1, port_value: PORT}}
    filter_chains: [{filters: [{name: t, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t, cluster: backend}}]}]
  clusters:)Y";
  std::string same_name = HttpBootstrap(kDefaultRoute);
  std::string l = listener;
  Replace(l, "NAME", "l0");
  Replace(l, "PORT", "10001");
  Replace(same_name, "\n  clusters:", l);
  EXPECT_THAT(ErrorOf(same_name),
              HasSubstr("static_resources.listeners[1].name: duplicate listener name 'l0'"));

  std::string same_port = HttpBootstrap(kDefaultRoute);
  l = listener;
  Replace(l, "NAME", "l1");
  Replace(l, "PORT", "10000");
  Replace(same_port, "\n  clusters:", l);
  EXPECT_THAT(ErrorOf(same_port), HasSubstr("static_resources.listeners[1].address: duplicate "
                                            "listener address 127.0.0.1:10000"));
}

TEST(BootstrapLoaderTest, RefusesRdsWithoutDynamicResources) {
  const std::string yaml = R"Y(
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
          http_filters: [{name: envoy.filters.http.router}]
          rds: {route_config_name: r, config_source: {ads: {}}}
)Y";
  EXPECT_EQ(ErrorOf(yaml),
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.rds: rds needs "
            "dynamic_resources.ads_config");
}

TEST(BootstrapLoaderTest, RefusesInvalidClusters) {
  const std::string non_ip = R"Y(- {name: c2, type: STATIC, load_assignment: {cluster_name: c2,
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: example.com, port_value: 80}}}}]}]}})Y";
  EXPECT_THAT(ErrorOf(HttpBootstrap(kDefaultRoute, "", non_ip)),
              HasSubstr("static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0]."
                        "endpoint.address.socket_address.address: 'example.com': STATIC cluster "
                        "endpoints must be IP addresses"));
  const std::string maglev =
      "- {name: c2, lb_policy: MAGLEV, maglev_lb_config: {table_size: 65536}}";
  EXPECT_THAT(ErrorOf(HttpBootstrap(kDefaultRoute, "", maglev)),
              HasSubstr("clusters[1].maglev_lb_config.table_size: 65536 must be a prime"));
}

TEST(BootstrapLoaderTest, RefusesZeroWeightSum) {
  EXPECT_THAT(
      ErrorOf(HttpBootstrap(
          R"Y([{match: {prefix: "/"}, route: {weighted_clusters: {clusters: [{name: backend, weight: 0}]}}}])Y")),
      HasSubstr("routes[0].route.weighted_clusters: the weights must sum to more than 0"));
}

TEST(BootstrapLoaderTest, RefusesListenerWithoutFilterChains) {
  const std::string yaml = R"Y(
static_resources:
  listeners: [{name: l, address: {socket_address: {address: 0.0.0.0, port_value: 1}}}]
)Y";
  EXPECT_EQ(ErrorOf(yaml),
            "static_resources.listeners[0].filter_chains: a listener needs filter_chains");
}

TEST(BootstrapLoaderTest, RefusesInvalidYaml) {
  EXPECT_THAT(ErrorOf("static_resources: [unclosed"), HasSubstr("invalid YAML"));
}

// --- defaults and translation ---

TEST(BootstrapLoaderTest, AppliesEnvoyDefaults) {
  auto config = LoadBootstrapFromString(HttpBootstrap(kDefaultRoute));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& hcm = Hcm(*config);
  EXPECT_EQ(hcm.codec_type, listener::HttpConnectionManagerConfig::CodecType::kAuto);
  EXPECT_EQ(hcm.server_name, "envoy");
  EXPECT_EQ(hcm.idle_timeout, Ms(3600 * 1000));
  EXPECT_EQ(hcm.stream_idle_timeout, Ms(300 * 1000));
  EXPECT_EQ(hcm.max_request_headers_kb, 60u);
  EXPECT_EQ(hcm.max_headers_count, 100u);
  EXPECT_TRUE(hcm.generate_request_id);
  EXPECT_FALSE(hcm.use_remote_address);
  const auto& action = std::get<router::RouteAction>(FirstRoute(*config).action);
  EXPECT_EQ(action.timeout, Ms(15000));
  EXPECT_TRUE(FirstRoute(*config).match.case_sensitive);
  const auto& cluster = *config->clusters[0];
  EXPECT_EQ(cluster.type, upstream::DiscoveryType::kStatic);
  EXPECT_EQ(cluster.lb_policy, upstream::LbPolicy::kRoundRobin);
  EXPECT_EQ(cluster.connect_timeout, Ms(5000));
  EXPECT_EQ(cluster.per_connection_buffer_limit_bytes, 1024u * 1024u);
  EXPECT_EQ(cluster.protocol, upstream::UpstreamProtocol::kHttp1);
  EXPECT_EQ(cluster.localities[0].endpoints[0].weight, 1u);
  EXPECT_EQ(config->listeners[0].per_connection_buffer_limit_bytes, 1024u * 1024u);
  EXPECT_FALSE(config->admin.enabled);
}

TEST(BootstrapLoaderTest, TranslatesHcmOptionsAndDurations) {
  const std::string extra = R"Y(server_name: weft
          use_remote_address: true
          xff_num_trusted_hops: 2
          normalize_path: true
          merge_slashes: true
          codec_type: HTTP2
          stream_idle_timeout: 0.25s
          request_timeout: 5s
          drain_timeout: 1.5s
          max_request_headers_kb: 96
          common_http_protocol_options: {idle_timeout: 0s, max_headers_count: 50}
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog,
                           log_format: {json_format: {status: "%RESPONSE_CODE%", a: "%START_TIME%"}}}
          - name: envoy.access_loggers.file
            typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog,
                           path: /tmp/weft-access.log, format: "%PROTOCOL%\n"})Y";
  auto config = LoadBootstrapFromString(HttpBootstrap(kDefaultRoute, extra));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& hcm = Hcm(*config);
  EXPECT_EQ(hcm.server_name, "weft");
  EXPECT_TRUE(hcm.use_remote_address);
  EXPECT_EQ(hcm.xff_num_trusted_hops, 2u);
  EXPECT_TRUE(hcm.normalize_path);
  EXPECT_TRUE(hcm.merge_slashes);
  EXPECT_EQ(hcm.codec_type, listener::HttpConnectionManagerConfig::CodecType::kHttp2);
  EXPECT_EQ(hcm.stream_idle_timeout, Ms(250));
  EXPECT_EQ(hcm.request_timeout, Ms(5000));
  EXPECT_EQ(hcm.drain_timeout, Ms(1500));
  EXPECT_EQ(hcm.idle_timeout, Ms(0));
  EXPECT_EQ(hcm.max_headers_count, 50u);
  EXPECT_EQ(hcm.max_request_headers_kb, 96u);
  ASSERT_EQ(hcm.access_logs.size(), 2u);
  EXPECT_EQ(hcm.access_logs[0].sink, listener::AccessLogConfig::Sink::kStdout);
  ASSERT_EQ(hcm.access_logs[0].json_format.size(), 2u);
  EXPECT_EQ(hcm.access_logs[0].json_format[1],
            (std::pair<std::string, std::string>("status", "%RESPONSE_CODE%")));
  EXPECT_EQ(hcm.access_logs[1].sink, listener::AccessLogConfig::Sink::kFile);
  EXPECT_EQ(hcm.access_logs[1].path, "/tmp/weft-access.log");
  EXPECT_EQ(hcm.access_logs[1].text_format, "%PROTOCOL%\n");
}

TEST(BootstrapLoaderTest, TranslatesEveryMatchKind) {
  const std::string routes = R"Y(
              - match: {prefix: /p, case_sensitive: false}
                route: {cluster: backend, timeout: 0.25s, idle_timeout: 5s}
              - match: {path: /exact}
                route: {cluster: backend}
              - match: {safe_regex: {regex: "/r/[0-9]+"}}
                route: {cluster: backend}
              - match:
                  path_separated_prefix: /api
                  headers:
                  - {name: X-Exact, exact_match: a}
                  - {name: x-prefix, prefix_match: b}
                  - {name: x-suffix, suffix_match: c}
                  - {name: x-contains, contains_match: d}
                  - {name: x-regex, safe_regex_match: {regex: "v[0-9]"}}
                  - {name: x-string, string_match: {exact: E, ignore_case: true}}
                  - {name: x-present, present_match: true}
                  - {name: x-absent, present_match: true, invert_match: true}
                  - {name: x-only-name}
                  query_parameters:
                  - {name: q, string_match: {prefix: "1"}}
                  - {name: flag}
                route: {cluster: backend})Y";
  auto config = LoadBootstrapFromString(HttpBootstrap(routes));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& r = Hcm(*config).route_config->virtual_hosts[0].routes;
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].match.path_kind, router::RouteMatch::PathKind::kPrefix);
  EXPECT_FALSE(r[0].match.case_sensitive);
  EXPECT_EQ(std::get<router::RouteAction>(r[0].action).timeout, Ms(250));
  EXPECT_EQ(std::get<router::RouteAction>(r[0].action).idle_timeout, Ms(5000));
  EXPECT_EQ(r[1].match.path_kind, router::RouteMatch::PathKind::kPath);
  EXPECT_EQ(r[1].match.path, "/exact");
  EXPECT_EQ(r[2].match.path_kind, router::RouteMatch::PathKind::kSafeRegex);
  ASSERT_NE(r[2].match.path_regex, nullptr);
  EXPECT_EQ(r[3].match.path_kind, router::RouteMatch::PathKind::kPathSeparatedPrefix);
  const auto& h = r[3].match.headers;
  ASSERT_EQ(h.size(), 9u);
  using Kind = router::StringMatcher::Kind;
  EXPECT_EQ(h[0].name, "x-exact");
  EXPECT_EQ(h[0].string_match->kind, Kind::kExact);
  EXPECT_EQ(h[1].string_match->kind, Kind::kPrefix);
  EXPECT_EQ(h[2].string_match->kind, Kind::kSuffix);
  EXPECT_EQ(h[3].string_match->kind, Kind::kContains);
  EXPECT_EQ(h[4].string_match->kind, Kind::kRegex);
  EXPECT_NE(h[4].string_match->regex, nullptr);
  EXPECT_TRUE(h[5].string_match->ignore_case);
  EXPECT_EQ(h[6].present_match, true);
  EXPECT_TRUE(h[7].invert_match);
  EXPECT_FALSE(h[8].string_match.has_value());
  EXPECT_FALSE(h[8].present_match.has_value());
  const auto& q = r[3].match.query_parameters;
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].string_match->value, "1");  // a quoted number stays a string
  EXPECT_TRUE(q[1].present_match);
}

TEST(BootstrapLoaderTest, TranslatesEveryActionKind) {
  const std::string routes = R"Y(
              - match: {prefix: /redirect}
                redirect: {https_redirect: true, response_code: FOUND, strip_query: true, prefix_rewrite: /new}
              - match: {prefix: /direct}
                direct_response: {status: 418, body: {inline_string: teapot}}
              - match: {prefix: /weighted}
                route:
                  weighted_clusters:
                    clusters:
                    - {name: backend, weight: 30, request_headers_to_add: [{header: {key: X-W, value: 1}}]}
                    - {name: backend, weight: 70}
                  regex_rewrite: {pattern: {regex: "^/weighted/(.*)"}, substitution: "/\\1"}
                  host_rewrite_literal: example.com
                  hash_policy:
                  - {header: {header_name: X-User}}
                  - {cookie: {name: sid, ttl: 60s, path: /}}
                  - {connection_properties: {source_ip: true}, terminal: true}
                  - {query_parameter: {name: u}}
                request_headers_to_add:
                - {header: {key: x-a, value: v}, append_action: OVERWRITE_IF_EXISTS_OR_ADD}
                - {header: {key: x-b, value: v}, append: false}
                - {header: {key: x-c, value: ""}, keep_empty_value: true, append_action: ADD_IF_ABSENT}
                response_headers_to_remove: [X-Internal]
              - match: {prefix: /}
                route: {cluster: backend, auto_host_rewrite: true, prefix_rewrite: /x})Y";
  auto config = LoadBootstrapFromString(HttpBootstrap(routes));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& r = Hcm(*config).route_config->virtual_hosts[0].routes;
  ASSERT_EQ(r.size(), 4u);
  const auto& redirect = std::get<router::RedirectAction>(r[0].action);
  EXPECT_EQ(redirect.scheme_redirect, "https");
  EXPECT_EQ(redirect.response_code, 302u);
  EXPECT_TRUE(redirect.strip_query);
  EXPECT_EQ(redirect.prefix_rewrite, "/new");
  const auto& direct = std::get<router::DirectResponseAction>(r[1].action);
  EXPECT_EQ(direct.status, 418u);
  EXPECT_EQ(direct.body, "teapot");
  const auto& weighted = std::get<router::RouteAction>(r[2].action);
  ASSERT_EQ(weighted.weighted_clusters.size(), 2u);
  EXPECT_EQ(weighted.total_weight, 100u);
  ASSERT_EQ(weighted.weighted_clusters[0].headers.request_headers_to_add.size(), 1u);
  EXPECT_EQ(weighted.weighted_clusters[0].headers.request_headers_to_add[0].name, "x-w");
  EXPECT_EQ(weighted.weighted_clusters[0].headers.request_headers_to_add[0].value, "1");
  ASSERT_TRUE(weighted.regex_rewrite.has_value());
  EXPECT_EQ(weighted.regex_rewrite->substitution, "/\\1");
  EXPECT_EQ(weighted.host_rewrite_literal, "example.com");
  ASSERT_EQ(weighted.hash_policy.size(), 4u);
  EXPECT_EQ(weighted.hash_policy[0].kind, router::HashPolicy::Kind::kHeader);
  EXPECT_EQ(weighted.hash_policy[0].name, "x-user");
  EXPECT_EQ(weighted.hash_policy[1].kind, router::HashPolicy::Kind::kCookie);
  EXPECT_EQ(weighted.hash_policy[1].cookie_ttl, Ms(60000));
  EXPECT_EQ(weighted.hash_policy[2].kind, router::HashPolicy::Kind::kSourceIp);
  EXPECT_TRUE(weighted.hash_policy[2].terminal);
  EXPECT_EQ(weighted.hash_policy[3].kind, router::HashPolicy::Kind::kQueryParameter);
  using Action = router::HeaderValueOption::AppendAction;
  const auto& add = r[2].headers.request_headers_to_add;
  ASSERT_EQ(add.size(), 3u);
  EXPECT_EQ(add[0].action, Action::kOverwriteIfExistsOrAdd);
  EXPECT_EQ(add[1].action, Action::kOverwriteIfExistsOrAdd);
  EXPECT_EQ(add[2].action, Action::kAddIfAbsent);
  EXPECT_TRUE(add[2].keep_empty_value);
  EXPECT_EQ(r[2].headers.response_headers_to_remove, std::vector<std::string>{"x-internal"});
  const auto& last = std::get<router::RouteAction>(r[3].action);
  EXPECT_TRUE(last.auto_host_rewrite);
  EXPECT_EQ(last.prefix_rewrite, "/x");
}

TEST(BootstrapLoaderTest, TranslatesClusterOptions) {
  const std::string clusters = R"Y(- name: ring
    type: STRICT_DNS
    lb_policy: RING_HASH
    connect_timeout: 0.25s
    dns_refresh_rate: 10s
    respect_dns_ttl: true
    dns_lookup_family: V4_ONLY
    dns_resolvers: [{socket_address: {address: 127.0.0.53, port_value: 53}}]
    ring_hash_lb_config: {minimum_ring_size: 64, maximum_ring_size: 1024}
    per_connection_buffer_limit_bytes: 32768
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: {idle_timeout: 30s, max_requests_per_connection: 100}
        explicit_http_config: {http2_protocol_options: {}}
    load_assignment:
      cluster_name: ring
      endpoints:
      - locality: {region: r1, zone: z1}
        priority: 1
        load_balancing_weight: 5
        lb_endpoints:
        - {endpoint: {address: {socket_address: {address: svc.local, port_value: 80}}, hostname: svc}, load_balancing_weight: 3}
  - name: maglev
    lb_policy: MAGLEV
    maglev_lb_config: {table_size: 5}
    http2_protocol_options: {}
  - name: least
    type: LOGICAL_DNS
    lb_policy: LEAST_REQUEST
    least_request_lb_config: {choice_count: 3}
    typed_dns_resolver_config:
      name: envoy.network.dns_resolver.cares
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig
        resolvers: [{socket_address: {address: "::1", port_value: 5353}}]
    load_assignment: {cluster_name: least, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: x.example, port_value: 80}}}}]}]}
  - name: odst
    type: ORIGINAL_DST
    lb_policy: CLUSTER_PROVIDED
    original_dst_lb_config: {use_http_header: true}
  - {name: eds, type: EDS})Y";
  auto config = LoadBootstrapFromString(HttpBootstrap(kDefaultRoute, "", clusters));
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->clusters.size(), 6u);
  const auto& ring = *config->clusters[1];
  EXPECT_EQ(ring.type, upstream::DiscoveryType::kStrictDns);
  EXPECT_EQ(ring.lb_policy, upstream::LbPolicy::kRingHash);
  EXPECT_EQ(ring.connect_timeout, Ms(250));
  EXPECT_EQ(ring.dns_refresh_rate, Ms(10000));
  EXPECT_TRUE(ring.respect_dns_ttl);
  EXPECT_EQ(ring.dns_lookup_family, upstream::DnsLookupFamily::kV4Only);
  EXPECT_EQ(ring.dns_resolvers, std::vector<std::string>{"127.0.0.53:53"});
  EXPECT_EQ(ring.ring_hash.minimum_ring_size, 64u);
  EXPECT_EQ(ring.ring_hash.maximum_ring_size, 1024u);
  EXPECT_EQ(ring.per_connection_buffer_limit_bytes, 32768u);
  EXPECT_EQ(ring.upstream_idle_timeout, Ms(30000));
  EXPECT_EQ(ring.max_requests_per_connection, 100u);
  EXPECT_EQ(ring.protocol, upstream::UpstreamProtocol::kHttp2);
  ASSERT_EQ(ring.localities.size(), 1u);
  EXPECT_EQ(ring.localities[0].region, "r1");
  EXPECT_EQ(ring.localities[0].priority, 1u);
  EXPECT_EQ(ring.localities[0].load_balancing_weight, 5u);
  EXPECT_EQ(ring.localities[0].endpoints[0].weight, 3u);
  EXPECT_EQ(ring.localities[0].endpoints[0].hostname, "svc");
  const auto& maglev = *config->clusters[2];
  EXPECT_EQ(maglev.maglev.table_size, 5u);
  EXPECT_EQ(maglev.protocol, upstream::UpstreamProtocol::kHttp2);
  const auto& least = *config->clusters[3];
  EXPECT_EQ(least.type, upstream::DiscoveryType::kLogicalDns);
  EXPECT_EQ(least.least_request.choice_count, 3u);
  EXPECT_EQ(least.dns_resolvers, std::vector<std::string>{"[::1]:5353"});
  const auto& odst = *config->clusters[4];
  EXPECT_EQ(odst.type, upstream::DiscoveryType::kOriginalDst);
  EXPECT_EQ(odst.original_dst_http_header, "x-envoy-original-dst-host");
  EXPECT_EQ(config->clusters[5]->type, upstream::DiscoveryType::kEds);
}

// The original_dst listener filter alone restores the destination without Envoy's hand-off to
// the listener of that destination (what Istio's virtualInbound relies on).
TEST(BootstrapLoaderTest, OriginalDstFilterRestoresWithoutHandoff) {
  auto config = LoadBootstrapFromString(R"Y(
static_resources:
  listeners:
  - name: virtualInbound
    address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
    listener_filters:
    - name: envoy.filters.listener.original_dst
      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: p, cluster: a}
  clusters:
  - {name: a, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED}
)Y");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->listeners[0].restore_original_dst);
  EXPECT_FALSE(config->listeners[0].use_original_dst);
}

TEST(BootstrapLoaderTest, TranslatesTcpProxyListenerFiltersAndAdmin) {
  const std::string yaml = R"Y(
node: {id: n1, cluster: c1, metadata: {version: "1", nested: {a: 1}}, locality: {zone: z}}
admin:
  access_log_path: /dev/null
  address: {socket_address: {address: 127.0.0.1, port_value: 9901}}
static_resources:
  listeners:
  - name: tcp
    address: {socket_address: {address: "::", port_value: 15001}}
    use_original_dst: true
    per_connection_buffer_limit_bytes: 65536
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
    - name: envoy.filters.listener.http_inspector
      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
    filter_chains:
    - name: tls
      filter_chain_match: {transport_protocol: tls, server_names: [A.example.com], destination_port: 443,
                           prefix_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          weighted_clusters: {clusters: [{name: a, weight: 1}, {name: b, weight: 3}]}
          idle_timeout: 10s
          max_connect_attempts: 3
    default_filter_chain:
      filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: d, cluster: a}
  clusters:
  - {name: a, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED}
  - {name: b, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED}
)Y";
  auto config = LoadBootstrapFromString(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->node.id, "n1");
  EXPECT_EQ(config->node.metadata.at("version"), "1");
  EXPECT_THAT(config->node.metadata.at("nested"), HasSubstr("\"a\""));
  EXPECT_EQ(config->node.locality_zone, "z");
  EXPECT_TRUE(config->admin.enabled);
  EXPECT_EQ(config->admin.port, 9901u);
  ASSERT_EQ(config->admin.access_logs.size(), 1u);
  EXPECT_EQ(config->admin.access_logs[0].path, "/dev/null");
  const auto& l = config->listeners[0];
  EXPECT_EQ(l.address, "::");
  EXPECT_TRUE(l.use_original_dst);
  EXPECT_TRUE(l.restore_original_dst);
  EXPECT_TRUE(l.tls_inspector);
  EXPECT_TRUE(l.http_inspector);
  EXPECT_EQ(l.per_connection_buffer_limit_bytes, 65536u);
  const auto& match = l.filter_chains[0].match;
  EXPECT_EQ(match.transport_protocol, "tls");
  EXPECT_EQ(match.server_names, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(match.destination_port, 443u);
  EXPECT_EQ(match.prefix_ranges[0].prefix_len, 8u);
  const auto& tcp = std::get<listener::TcpProxyConfig>(l.filter_chains[0].filter);
  EXPECT_EQ(tcp.total_weight, 4u);
  EXPECT_EQ(tcp.idle_timeout, Ms(10000));
  EXPECT_EQ(tcp.max_connect_attempts, 3u);
  ASSERT_TRUE(l.default_filter_chain.has_value());
  EXPECT_EQ(std::get<listener::TcpProxyConfig>(l.default_filter_chain->filter).cluster, "a");
}

TEST(BootstrapLoaderTest, AcceptsJsonInput) {
  const std::string json = R"Y({
    "static_resources": {
      "listeners": [{
        "name": "j",
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
        "filter_chains": [{"filters": [{
          "name": "envoy.filters.network.tcp_proxy",
          "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "stat_prefix": "t", "cluster": "c", "idle_timeout": "0.5s"}}]}]}],
      "clusters": [{"name": "c", "connectTimeout": "1s",
        "load_assignment": {"cluster_name": "c", "endpoints": [{"lb_endpoints": [
          {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}}}}]}]}}]}})Y";
  auto config = LoadBootstrapFromString(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(
      std::get<listener::TcpProxyConfig>(config->listeners[0].filter_chains[0].filter).idle_timeout,
      Ms(500));
  EXPECT_EQ(config->clusters[0]->connect_timeout, Ms(1000));
}

TEST(BootstrapLoaderTest, ResolvesYamlAnchors) {
  std::string yaml =
      HttpBootstrap(R"Y([{match: {prefix: "/"}, route: &r {cluster: backend, timeout: 3s}},
                                        {match: {prefix: "/b"}, route: *r}])Y");
  auto config = LoadBootstrapFromString(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& r = Hcm(*config).route_config->virtual_hosts[0].routes;
  EXPECT_EQ(std::get<router::RouteAction>(r[1].action).timeout, Ms(3000));
}

TEST(BootstrapLoaderHttp2Test, TranslatesHttp2ProtocolOptionsWithEnvoyDefaults) {
  const std::string extra =
      R"Y(http2_protocol_options: {max_concurrent_streams: 7, initial_stream_window_size: 65535})Y";
  const std::string clusters = R"Y(- name: explicit
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {initial_connection_window_size: 1048576, hpack_table_size: 0}}
  - name: same
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        use_downstream_protocol_config: {http2_protocol_options: {max_concurrent_streams: 3}}
  - name: legacy
    http2_protocol_options: {max_concurrent_streams: 100})Y";
  auto config = LoadBootstrapFromString(HttpBootstrap(kDefaultRoute, extra, clusters));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& hcm = Hcm(*config);
  EXPECT_EQ(hcm.http2.max_concurrent_streams, 7u);
  EXPECT_EQ(hcm.http2.initial_stream_window_size, 65535u);
  EXPECT_EQ(hcm.http2.initial_connection_window_size, 268435456u);  // Envoy's default
  ASSERT_EQ(config->clusters.size(), 4u);
  EXPECT_EQ(config->clusters[0]->protocol, upstream::UpstreamProtocol::kHttp1);
  EXPECT_EQ(config->clusters[0]->http2.max_concurrent_streams, 2147483647u);
  EXPECT_EQ(config->clusters[1]->protocol, upstream::UpstreamProtocol::kHttp2);
  EXPECT_EQ(config->clusters[1]->http2.initial_connection_window_size, 1048576u);
  EXPECT_EQ(config->clusters[1]->http2.hpack_table_size, 0u);
  EXPECT_EQ(config->clusters[2]->protocol, upstream::UpstreamProtocol::kUseDownstream);
  EXPECT_EQ(config->clusters[2]->http2.max_concurrent_streams, 3u);
  EXPECT_EQ(config->clusters[3]->protocol, upstream::UpstreamProtocol::kHttp2);
  EXPECT_EQ(config->clusters[3]->http2.max_concurrent_streams, 100u);
}

TEST(BootstrapLoaderHttp2Test, RefusesBadHttp2OptionsWithTheirPath) {
  EXPECT_THAT(ErrorOf(HttpBootstrap(kDefaultRoute,
                                    "http2_protocol_options: {initial_stream_window_size: 100}")),
              HasSubstr("http2_protocol_options.initial_stream_window_size: must be between "
                        "65535 and 2147483647"));
  EXPECT_THAT(ErrorOf(HttpBootstrap(
                  kDefaultRoute, "",
                  R"Y(- {name: c2, http2_protocol_options: {max_concurrent_streams: 0}})Y")),
              HasSubstr("clusters[1].http2_protocol_options.max_concurrent_streams: must be "
                        "between 1 and 2147483647"));
  EXPECT_THAT(
      ErrorOf(HttpBootstrap(kDefaultRoute, "http2_protocol_options: {allow_connect: true}")),
      HasSubstr("http2_protocol_options.allow_connect"));
}

constexpr char kXdsCluster[] = R"Y(
static_resources:
  clusters:
  - name: xds
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: xds
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 15010}}}}]}]
)Y";

TEST(BootstrapLoaderTest, DynamicResourcesPointAtTheAdsCluster) {
  const std::string yaml = std::string(R"Y(
node: {id: sidecar-1, cluster: web, metadata: {NAMESPACE: default}}
dynamic_resources:
  ads_config: {api_type: GRPC, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds}}]}
  cds_config: {ads: {}, resource_api_version: V3}
  lds_config: {ads: {}, resource_api_version: V3}
)Y") + kXdsCluster;
  auto config = LoadBootstrapFromString(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->xds.enabled);
  EXPECT_EQ(config->xds.target, "127.0.0.1:15010");
  EXPECT_TRUE(config->xds.cds);
  EXPECT_TRUE(config->xds.lds);
  EXPECT_THAT(config->xds.node_metadata_json, HasSubstr("NAMESPACE"));
}

TEST(BootstrapLoaderTest, DeltaGrpcSelectsTheIncrementalProtocol) {
  for (const char* api_type : {"DELTA_GRPC", "AGGREGATED_DELTA_GRPC"}) {
    auto config = LoadBootstrapFromString(
        std::string("node: {id: n}\ndynamic_resources:\n  ads_config: {api_type: ") + api_type +
        ", grpc_services: [{envoy_grpc: {cluster_name: xds}}]}\n  cds_config: {ads: {}}\n" +
        kXdsCluster);
    ASSERT_TRUE(config.ok()) << api_type << ": " << config.status();
    EXPECT_TRUE(config->xds.delta) << api_type;
  }
  auto sotw = LoadBootstrapFromString(
      std::string("node: {id: n}\ndynamic_resources:\n  ads_config: {api_type: GRPC, "
                  "grpc_services: [{envoy_grpc: {cluster_name: xds}}]}\n") +
      kXdsCluster);
  ASSERT_TRUE(sotw.ok()) << sotw.status();
  EXPECT_FALSE(sotw->xds.delta);
}

TEST(BootstrapLoaderTest, RefusesDynamicResourcesWeCannotServe) {
  const std::string head = "node: {id: n}\ndynamic_resources:\n";
  EXPECT_EQ(ErrorOf(head +
                    "  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: "
                    "{cluster_name: nope}}]}\n" +
                    kXdsCluster),
            "dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: unknown "
            "cluster 'nope' (it must be a static_resources cluster)");
  EXPECT_EQ(ErrorOf(head +
                    "  ads_config: {api_type: REST, grpc_services: [{envoy_grpc: "
                    "{cluster_name: xds}}]}\n" +
                    kXdsCluster),
            "dynamic_resources.ads_config.api_type: only GRPC (state of the world) and "
            "DELTA_GRPC (incremental) are supported by weft-proxy's client");
  EXPECT_EQ(ErrorOf("dynamic_resources:\n  ads_config: {api_type: GRPC, grpc_services: "
                    "[{envoy_grpc: {cluster_name: xds}}]}\n" +
                    std::string(kXdsCluster)),
            "node.id: is required with dynamic_resources (the server keys on it)");
  EXPECT_EQ(ErrorOf(head + "  cds_config: {ads: {}}\n"),
            "dynamic_resources.ads_config: is required by lds_config/cds_config ads");
}

TEST(BootstrapLoaderTest, EdsClusterTakesItsServiceName) {
  const std::string yaml = std::string("node: {id: n}\n") + R"Y(
static_resources:
  clusters:
  - name: web
    type: EDS
    connect_timeout: 1s
    eds_cluster_config: {service_name: web-v1, eds_config: {ads: {}}}
)Y";
  auto config = LoadBootstrapFromString(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->clusters[0]->eds_service_name, "web-v1");
}

// The ADS cluster's UpstreamTlsContext becomes the xDS client's own TLS settings (its gRPC
// channel does not go through the cluster's connection pools).
TEST(BootstrapLoaderTest, AdsClusterTlsGivesTheXdsClientItsRootAndSni) {
  char dir_template[] = "/tmp/weft-ads-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                         "-keyout " +
                         dir + "/ca.key -out " + dir + "/ca.pem -days 1 -subj /CN=root 2>/dev/null")
                            .c_str()),
            0);
  std::ifstream in(dir + "/ca.pem");
  const std::string root((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string dynamic = R"Y(
node: {id: sidecar-1, cluster: web, metadata: {NAMESPACE: default}}
dynamic_resources:
  ads_config: {api_type: GRPC, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds}}]}
  cds_config: {ads: {}, resource_api_version: V3}
)Y";
  auto with_tls = [&](const std::string& context) {
    return dynamic + kXdsCluster +
           "    transport_socket: {name: envoy.transport_sockets.tls, typed_config: {\"@type\": "
           "type.googleapis.com/"
           "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext, " +
           context + "}}\n";
  };
  auto config = LoadBootstrapFromString(with_tls(
      "sni: istiod.istio-system.svc, common_tls_context: {validation_context: {trusted_ca: "
      "{filename: " +
      dir + "/ca.pem}}}"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->xds.tls);
  EXPECT_EQ(config->xds.tls_root_pem, root);
  EXPECT_EQ(config->xds.tls_sni, "istiod.istio-system.svc");
  EXPECT_TRUE(config->xds.tls_cert_chain_pem.empty());

  // Plaintext stays the default.
  auto plain = LoadBootstrapFromString(dynamic + kXdsCluster);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->xds.tls);

  // Nothing to verify the server with: refused with the path.
  EXPECT_THAT(ErrorOf(with_tls("sni: istiod.istio-system.svc")),
              HasSubstr("dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name: "
                        "cluster 'xds' is the ADS cluster: its UpstreamTlsContext needs "
                        "common_tls_context.validation_context.trusted_ca"));
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace weft::config
