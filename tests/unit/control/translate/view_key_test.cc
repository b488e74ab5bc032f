// The grouping weftd's mesh controller relies on: proxies with the same view key get the same
// translation, so one Translate serves them all.
#include "control/translate/view_key.h"

#include <gtest/gtest.h>

namespace weft::control::translate {
namespace {

using nlohmann::json;

json Object(const std::string& kind, const std::string& ns, const std::string& name, json spec) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", spec}};
}

json Service(const std::string& ns, const std::string& name, uint32_t port) {
  return Object(
      "ServiceEntry", ns, name,
      {{"hosts", {name + "." + ns + ".svc.cluster.local"}},
       {"ports", {{{"number", port}, {"name", "http"}, {"protocol", "HTTP"}}}},
       {"resolution", "STATIC"},
       {"endpoints",
        {{{"address", "10.1.0.1"}, {"labels", {{"version", "v1"}}}, {"locality", "eu/a/1"}},
         {{"address", "10.1.0.2"}, {"labels", {{"version", "v2"}}}, {"locality", "us/b/1"}}}}});
}

// A mesh where labels matter in every place the translator reads them.
Snapshot Mesh() {
  Snapshot s;
  s.resources = {
      Service("default", "reviews", 9080),
      Service("default", "ratings", 9081),
      Service("other", "details", 9082),
      Object("VirtualService", "default", "reviews",
             {{"hosts", {"reviews"}},
              {"http",
               {{{"match", {{{"sourceLabels", {{"app", "productpage"}}}}}},
                 {"route", {{{"destination", {{"host", "reviews"}, {"subset", "v2"}}}}}}},
                {{"route", {{{"destination", {{"host", "reviews"}, {"subset", "v1"}}}}}}}}}}),
      Object("DestinationRule", "default", "reviews",
             {{"host", "reviews"},
              {"trafficPolicy",
               {{"loadBalancer", {{"localityLbSetting", {{"enabled", true}}}}},
                {"outlierDetection", {{"consecutive5xxErrors", 3}}}}},
              {"subsets",
               {{{"name", "v1"}, {"labels", {{"version", "v1"}}}},
                {{"name", "v2"}, {"labels", {{"version", "v2"}}}}}}}),
      Object("DestinationRule", "default", "ratings-for-canaries",
             {{"host", "ratings"},
              {"workloadSelector", {{"labels", {{"track", "canary"}}}}},
              {"trafficPolicy", {{"connectionPool", {{"tcp", {{"maxConnections", 7}}}}}}}}),
      Object("Sidecar", "default", "restricted",
             {{"workloadSelector", {{"labels", {{"tier", "edge"}}}}},
              {"egress", {{{"hosts", {"./*"}}}}}}),
  };
  s.registry = BuildRegistry(s.resources);
  return s;
}

std::string Serialized(const XdsResources& r) {
  std::string out;
  for (const auto& l : r.listeners) out += l.SerializeAsString();
  for (const auto& rc : r.route_configs) out += rc.SerializeAsString();
  for (const auto& c : r.clusters) out += c.SerializeAsString();
  for (const auto& e : r.endpoints) out += e.SerializeAsString();
  for (const auto& w : r.warnings) out += w;
  return out;
}

ProxyIdentity Proxy(std::string id, std::string ns, Labels labels, std::string ip = "",
                    std::string locality = "") {
  ProxyIdentity p;
  p.node_id = std::move(id);
  p.namespace_ = std::move(ns);
  p.labels = std::move(labels);
  p.ip = std::move(ip);
  p.locality = std::move(locality);
  return p;
}

TEST(ViewKeyTest, SelectorLabelKeysAreTheKeysOfEverySelector) {
  EXPECT_EQ(SelectorLabelKeys(Mesh().resources), (std::set<std::string>{"app", "tier", "track"}));
}

TEST(ViewKeyTest, ProxiesWithTheSameKeyGetIdenticalTranslations) {
  const Snapshot mesh = Mesh();
  const std::set<std::string> keys = SelectorLabelKeys(mesh.resources);
  const std::vector<ProxyIdentity> proxies = {
      Proxy("a-1", "default", {{"app", "productpage"}, {"pod-template-hash", "1"}}, "10.0.0.1"),
      Proxy("a-2", "default", {{"app", "productpage"}, {"pod-template-hash", "2"}}, "10.0.0.2"),
      Proxy("b-1", "default", {{"app", "reviews"}, {"version", "v1"}}, "10.0.0.3"),
      Proxy("b-2", "default", {{"app", "reviews"}, {"version", "v2"}}, "10.0.0.4"),
      Proxy("c-1", "default", {{"app", "reviews"}, {"track", "canary"}}),
      Proxy("d-1", "default", {{"tier", "edge"}}),
      Proxy("e-1", "other", {{"app", "productpage"}}),
      Proxy("f-1", "default", {{"app", "reviews"}}, "", "eu/a/1"),
      Proxy("f-2", "default", {{"app", "reviews"}}, "", "us/b/1"),
  };
  std::map<std::string, std::string> output_by_key;
  for (const ProxyIdentity& p : proxies) {
    const ProxyIdentity view = ViewOf(p, keys);
    const std::string output = Serialized(Translate(mesh, p));
    // The reduced identity translates exactly like the full one...
    EXPECT_EQ(Serialized(Translate(mesh, view)), output) << p.node_id;
    // ...so every proxy of one key gets the same output.
    auto [it, inserted] = output_by_key.emplace(ViewKey(view), output);
    if (!inserted) EXPECT_EQ(it->second, output) << p.node_id;
  }
  // Replicas (a-1/a-2: only an unselected label and the IP differ) share one view; b-1 and b-2
  // differ only in `version`, which no selector reads.
  EXPECT_EQ(ViewKey(ViewOf(proxies[0], keys)), ViewKey(ViewOf(proxies[1], keys)));
  EXPECT_EQ(ViewKey(ViewOf(proxies[2], keys)), ViewKey(ViewOf(proxies[3], keys)));
  EXPECT_EQ(output_by_key.size(), 7u);
}

TEST(ViewKeyTest, EveryFieldTheTranslatorReadsSplitsTheViews) {
  const Snapshot mesh = Mesh();
  const std::set<std::string> keys = SelectorLabelKeys(mesh.resources);
  const ProxyIdentity base = Proxy("x", "default", {{"app", "reviews"}});
  auto differs = [&](ProxyIdentity p) {
    return ViewKey(ViewOf(p, keys)) != ViewKey(ViewOf(base, keys)) &&
           Serialized(Translate(mesh, p)) != Serialized(Translate(mesh, base));
  };
  EXPECT_TRUE(differs(Proxy("x", "other", {{"app", "reviews"}})));
  EXPECT_TRUE(differs(Proxy("x", "default", {{"app", "productpage"}})));
  EXPECT_TRUE(differs(Proxy("x", "default", {{"app", "reviews"}, {"tier", "edge"}})));
  EXPECT_TRUE(differs(Proxy("x", "default", {{"app", "reviews"}}, "", "eu/a/1")));
  ProxyIdentity with_ports = base;
  with_ports.ports = {ServicePort{9080, "http", "HTTP", 0}};
  with_ports.ip = "10.0.0.9";
  EXPECT_TRUE(differs(with_ports));
  ProxyIdentity other_ip = with_ports;
  other_ip.ip = "10.0.0.10";  // with ports, the IP is the inbound listener's address
  EXPECT_NE(ViewKey(ViewOf(other_ip, keys)), ViewKey(ViewOf(with_ports, keys)));
  EXPECT_NE(Serialized(Translate(mesh, other_ip)), Serialized(Translate(mesh, with_ports)));
  // Issue 5: the capture layout and the WEFT_UPSTREAMS listeners.
  ProxyIdentity captured = with_ports;
  captured.capture = true;
  EXPECT_TRUE(differs(captured));
  ProxyIdentity with_upstreams = base;
  with_upstreams.upstreams = {{"reviews", 9080, "127.0.0.1", 19080}};
  EXPECT_TRUE(differs(with_upstreams));
  // Captured replicas on other IPs share the view and its bytes.
  ProxyIdentity replica = captured;
  replica.ip = "10.0.0.11";
  EXPECT_EQ(ViewKey(ViewOf(replica, keys)), ViewKey(ViewOf(captured, keys)));
  EXPECT_EQ(Serialized(Translate(mesh, replica)), Serialized(Translate(mesh, captured)));
}

}  // namespace
}  // namespace weft::control::translate
