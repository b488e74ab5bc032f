// Focused tests of the translator's rules: host resolution, registry building, scoping
// (exportTo, Sidecar egress, gateways, sourceLabels), and a few conversions.
#include "control/translate/translate.h"

#include <gtest/gtest.h>

#include "control/translate/internal.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;

json ServiceEntry(const std::string& ns, const std::string& host, uint32_t port,
                  json extra = json::object()) {
  json spec = {{"hosts", {host}},
               {"ports", {{{"number", port}, {"name", "http"}, {"protocol", "HTTP"}}}},
               {"resolution", "STATIC"}};
  spec.update(extra);
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", "ServiceEntry"},
          {"metadata", {{"name", host}, {"namespace", ns}}},
          {"spec", spec}};
}

json Object(const std::string& kind, const std::string& ns, const std::string& name, json spec) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

std::vector<std::string> ClusterNames(const XdsResources& r) {
  std::vector<std::string> out;
  for (const auto& c : r.clusters) out.push_back(c.name());
  return out;
}

XdsResources TranslateFor(const std::vector<json>& resources, ProxyIdentity proxy = {}) {
  Snapshot s;
  s.resources = resources;
  s.registry = BuildRegistry(resources);
  return Translate(s, proxy);
}

TEST(HostTest, ShortNamesResolveInTheRulesNamespace) {
  EXPECT_EQ(ResolveHost("reviews", "default"), "reviews.default.svc.cluster.local");
  EXPECT_EQ(ResolveHost("reviews", "prod"), "reviews.prod.svc.cluster.local");
  // Istio: anything with a dot is taken as written.
  EXPECT_EQ(ResolveHost("reviews.prod.svc.cluster.local", "default"),
            "reviews.prod.svc.cluster.local");
  EXPECT_EQ(ResolveHost("*.example.com", "default"), "*.example.com");
  EXPECT_EQ(ResolveHost("*", "default"), "*");
}

TEST(HostTest, WildcardsMatchLikeIstio) {
  EXPECT_TRUE(HostMatches("*", "a.b"));
  EXPECT_TRUE(HostMatches("*.example.com", "api.example.com"));
  EXPECT_TRUE(HostMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(HostMatches("*.example.com", "example.com"));
  EXPECT_TRUE(HostMatches("*.com", "*.example.com"));
  EXPECT_FALSE(HostMatches("a.example.com", "b.example.com"));
}

TEST(RegistryTest, WorkloadEntriesJoinServicesBySelectorInTheirNamespace) {
  std::vector<json> resources = {
      ServiceEntry("default", "reviews", 9080,
                   {{"workloadSelector", {{"labels", {{"app", "reviews"}}}}}}),
      Object(
          "WorkloadEntry", "default", "r1",
          {{"address", "10.0.0.1"}, {"labels", {{"app", "reviews"}}}, {"ports", {{"http", 8080}}}}),
      Object("WorkloadEntry", "other", "r2",
             {{"address", "10.0.0.2"}, {"labels", {{"app", "reviews"}}}}),
      Object("WorkloadGroup", "default", "vm",
             {{"metadata", {{"labels", {{"app", "reviews"}}}}},
              {"template", {{"serviceAccount", "sa"}}}}),
  };
  Registry r = BuildRegistry(resources);
  ASSERT_EQ(r.services.size(), 1u);
  EXPECT_EQ(r.services[0].hostname, "reviews.default.svc.cluster.local");
  ASSERT_EQ(r.services[0].endpoints.size(), 1u);
  EXPECT_EQ(r.services[0].endpoints[0].address, "10.0.0.1");
  EXPECT_EQ(r.services[0].endpoints[0].ports.at("http"), 8080u);
  ASSERT_TRUE(r.workload_groups.count("default/vm"));
  EXPECT_EQ(r.workload_groups["default/vm"]["labels"]["app"], "reviews");

  // A proxy registering itself (weftd) joins the same way.
  AddWorkload(r,
              Workload{"default", Endpoint{.address = "10.0.0.3", .labels = {{"app", "reviews"}}}});
  ASSERT_EQ(r.services[0].endpoints.size(), 2u);
  EXPECT_EQ(r.services[0].endpoints[1].address, "10.0.0.3");
}

TEST(ScopeTest, ExportToDotHidesAServiceFromOtherNamespaces) {
  std::vector<json> resources = {
      ServiceEntry("other", "private", 8080, {{"exportTo", {"."}}}),
      ServiceEntry("other", "public", 8080),
  };
  ProxyIdentity in_default;
  const auto names = ClusterNames(TranslateFor(resources, in_default));
  EXPECT_EQ(
      std::count(names.begin(), names.end(), "outbound|8080||private.other.svc.cluster.local"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "outbound|8080||public.other.svc.cluster.local"),
            1);
  ProxyIdentity in_other;
  in_other.namespace_ = "other";
  const auto other_names = ClusterNames(TranslateFor(resources, in_other));
  EXPECT_EQ(std::count(other_names.begin(), other_names.end(),
                       "outbound|8080||private.other.svc.cluster.local"),
            1);
}

TEST(ScopeTest, SidecarEgressHostsLimitWhatTheProxySees) {
  std::vector<json> resources = {
      ServiceEntry("default", "a", 8080),
      ServiceEntry("far", "b", 8080),
      ServiceEntry("near", "c", 8080),
      ServiceEntry("near", "d", 8080),
      Object("Sidecar", "default", "default",
             {{"egress", {{{"hosts", {"./*", "near/c.near.svc.cluster.local"}}}}}}),
  };
  const auto names = ClusterNames(TranslateFor(resources));
  auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  EXPECT_TRUE(has("outbound|8080||a.default.svc.cluster.local"));
  EXPECT_FALSE(has("outbound|8080||b.far.svc.cluster.local"));
  EXPECT_TRUE(has("outbound|8080||c.near.svc.cluster.local"));
  EXPECT_FALSE(has("outbound|8080||d.near.svc.cluster.local"));
}

TEST(ScopeTest, SidecarWithWorkloadSelectorWinsAndRegistryOnlyBlocksUnknownHosts) {
  std::vector<json> resources = {
      ServiceEntry("default", "a", 8080),
      Object("Sidecar", "default", "all", {{"egress", {{{"hosts", {"*/*"}}}}}}),
      Object("Sidecar", "default", "mine",
             {{"workloadSelector", {{"labels", {{"app", "me"}}}}},
              {"outboundTrafficPolicy", {{"mode", "REGISTRY_ONLY"}}}}),
  };
  ProxyIdentity me;
  me.labels = {{"app", "me"}};
  XdsResources r = TranslateFor(resources, me);
  ASSERT_EQ(r.route_configs.size(), 1u);
  const auto& last = r.route_configs[0].virtual_hosts(r.route_configs[0].virtual_hosts_size() - 1);
  EXPECT_EQ(last.name(), "block_all");
  EXPECT_EQ(last.routes(0).direct_response().status(), 502u);
  r = TranslateFor(resources, ProxyIdentity{});
  EXPECT_EQ(r.route_configs[0].virtual_hosts(1).name(), "allow_any");
}

TEST(RouteTest, SourceLabelsAndGatewaysDecideWhichRulesApply) {
  std::vector<json> resources = {
      ServiceEntry("default", "svc", 80),
      Object("VirtualService", "default", "gw-only",
             {{"hosts", {"svc"}},
              {"gateways", {"ingress"}},
              {"http", {{{"route", {{{"destination", {{"host", "nowhere"}}}}}}}}}}),
      Object("VirtualService", "default", "by-source",
             {{"hosts", {"svc"}},
              {"http",
               {{{"match", {{{"sourceLabels", {{"app", "canary"}}}}}},
                 {"route", {{{"destination", {{"host", "svc"}, {"subset", "c"}}}}}}},
                {{"route", {{{"destination", {{"host", "svc"}}}}}}}}}}),
  };
  ProxyIdentity canary;
  canary.labels = {{"app", "canary"}};
  XdsResources r = TranslateFor(resources, canary);
  const auto& vh = r.route_configs[0].virtual_hosts(0);
  ASSERT_EQ(vh.routes_size(), 2);
  EXPECT_EQ(vh.routes(0).route().cluster(), "outbound|80|c|svc.default.svc.cluster.local");
  r = TranslateFor(resources, ProxyIdentity{});
  ASSERT_EQ(r.route_configs[0].virtual_hosts(0).routes_size(), 1);
  EXPECT_EQ(r.route_configs[0].virtual_hosts(0).routes(0).route().cluster(),
            "outbound|80||svc.default.svc.cluster.local");
}

TEST(RouteTest, RetriesWithZeroAttemptsTurnRetriesOff) {
  std::vector<json> resources = {
      ServiceEntry("default", "svc", 80),
      Object("VirtualService", "default", "svc",
             {{"hosts", {"svc"}},
              {"http",
               {{{"retries", {{"attempts", 0}}},
                 {"route", {{{"destination", {{"host", "svc"}}}}}}}}}}),
  };
  XdsResources r = TranslateFor(resources);
  EXPECT_FALSE(r.route_configs[0].virtual_hosts(0).routes(0).route().has_retry_policy());
}

TEST(ListenerTest, InboundPortOverlappingAnOutboundListenerIsReported) {
  ProxyIdentity self;  // no IP: inbound binds 0.0.0.0, which overlaps 127.0.0.1
  self.ports = {ServicePort{80, "http", "HTTP", 8080}};
  XdsResources r = TranslateFor({ServiceEntry("default", "svc", 80)}, self);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("inbound port 80 on 0.0.0.0 overlaps"), std::string::npos);
  self.ip = "10.0.0.5";
  EXPECT_TRUE(TranslateFor({ServiceEntry("default", "svc", 80)}, self).warnings.empty());
}

TEST(ProxylessTest, ApiListenersUnderEveryNameAClientMayDialAndTimeoutsAsStreamDurations) {
  std::vector<json> resources = {
      ServiceEntry("default", "reviews.default.svc.cluster.local", 9080),
      ServiceEntry("other", "ratings.other.svc.cluster.local", 9080),
      Object("VirtualService", "default", "reviews",
             {{"hosts", {"reviews"}},
              {"http",
               {{{"timeout", "1.5s"}, {"route", {{{"destination", {{"host", "reviews"}}}}}}}}}}),
  };
  ProxyIdentity client;
  client.proxyless_grpc = true;  // namespace "default"
  XdsResources r = TranslateFor(resources, client);
  std::vector<std::string> listeners;
  for (const auto& l : r.listeners) listeners.push_back(l.name());
  // The bare name only from the service's own namespace, as Kubernetes DNS resolves it.
  EXPECT_EQ(listeners, (std::vector<std::string>{
                           "ratings.other.svc.cluster.local:9080", "ratings.other.svc:9080",
                           "ratings.other:9080", "reviews.default.svc.cluster.local:9080",
                           "reviews.default.svc:9080", "reviews.default:9080", "reviews:9080"}));
  ASSERT_EQ(r.route_configs.size(), 2u);
  EXPECT_EQ(r.route_configs[1].name(), "reviews.default.svc.cluster.local:9080");
  const auto& action = r.route_configs[1].virtual_hosts(0).routes(0).route();
  EXPECT_EQ(action.max_stream_duration().max_stream_duration().nanos(), 500000000);
  EXPECT_EQ(action.max_stream_duration().max_stream_duration().seconds(), 1);
  // No route timeout set: nothing limits the stream.
  EXPECT_FALSE(r.route_configs[0].virtual_hosts(0).routes(0).route().has_max_stream_duration());
  // Istio's default LEAST_REQUEST would be NACKed by gRPC C-core 1.51.
  for (const auto& c : r.clusters) {
    EXPECT_EQ(c.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN) << c.name();
  }
}

TEST(ConversionTest, IstioDurations) {
  auto d = internal::ParseDuration(json("1.5s"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds(), 1);
  EXPECT_EQ(d->nanos(), 500000000);
  d = internal::ParseDuration(json("1h30m"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->seconds(), 5400);
  d = internal::ParseDuration(json("100ms"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->nanos(), 100000000);
  EXPECT_FALSE(internal::ParseDuration(json("abc")));
  EXPECT_FALSE(internal::ParseDuration(json(5)));
}

TEST(ConversionTest, PercentagesCountInMillionths) {
  auto p = internal::PercentOf(json{{"value", 0.1}}, json());
  EXPECT_EQ(p.numerator(), 1000u);
  EXPECT_EQ(p.denominator(), envoy::type::v3::FractionalPercent::MILLION);
  p = internal::PercentOf(json(), json(50));
  EXPECT_EQ(p.numerator(), 50u);
  EXPECT_EQ(p.denominator(), envoy::type::v3::FractionalPercent::HUNDRED);
}

}  // namespace
}  // namespace weft::control::translate
