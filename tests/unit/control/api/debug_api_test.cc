// weftd's /debug/proxies API over a real SnapshotCache, without sockets: node ids with '~', '.'
// and '/', per-type states, Envoy JSON of a node's resources, 404/400/405 as Kubernetes Statuses.
#include "control/api/debug_api.h"

#include <google/protobuf/any.pb.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "unit/control/api/captured_response.h"

namespace weft::control {
namespace {

using nlohmann::json;

constexpr char kNode[] = "sidecar~10.0.0.7~reviews-v1-5f6d.default~default.svc.cluster.local";

class DebugApiTest : public ::testing::Test {
 protected:
  DebugApiTest()
      : api_(
            cache_,
            [](const std::string& id) -> std::optional<ProxyTranslation> {
              if (id != kNode) return std::nullopt;
              return ProxyTranslation{
                  "default", "10.0.0.7", {"VirtualService default/x: bad"}, "weft-proxy", "0.5.0"};
            },
            [] { return 42; }) {
    envoy::config::cluster::v3::Cluster c;
    c.set_name("outbound|9080|v1|reviews.default.svc.cluster.local");
    c.set_type(envoy::config::cluster::v3::Cluster::EDS);
    google::protobuf::Any any;
    any.PackFrom(c);
    xds::Snapshot snapshot;
    snapshot[xds::kClusterType].resources[c.name()] = any.SerializeAsString();
    snapshot[xds::kListenerType];
    cache_.SetSnapshot(kNode, std::move(snapshot));
    cache_.StreamOpened(kNode);
  }

  CapturedResponse Get(const std::string& path, std::map<std::string, std::string> query = {}) {
    HttpRequest request{"GET", path, std::move(query), ""};
    CapturedResponse response;
    EXPECT_TRUE(DebugApi::Serves(request));
    api_.Handle(request, response);
    return response;
  }

  xds::SnapshotCache cache_;
  DebugApi api_;
};

TEST_F(DebugApiTest, ListsEveryNodeWithPerTypeStates) {
  cache_.RecordSent(kNode, xds::kClusterType, "v1", "1");
  cache_.RecordAck(kNode, xds::kClusterType, "v1");
  cache_.RecordSent(kNode, xds::kListenerType, "v1", "2");
  cache_.RecordNack(kNode, xds::kListenerType, "v1", "listener 0.0.0.0_80: bind failed");
  cache_.RecordSent(kNode, xds::kRouteType, "v1", "3");
  CapturedResponse r = Get("/debug/proxies");
  ASSERT_EQ(r.status, 200u) << r.body;
  json body = r.Json();
  EXPECT_EQ(body["weftd"]["revision"], 42);
  EXPECT_EQ(body["weftd"]["version"], kWeftdVersion);
  ASSERT_EQ(body["proxies"].size(), 1u);
  const json& p = body["proxies"][0];
  EXPECT_EQ(p["node_id"], kNode);
  EXPECT_EQ(p["namespace"], "default");
  EXPECT_EQ(p["userAgent"], "weft-proxy");  // node.user_agent_name, for `weftctl version`
  EXPECT_EQ(p["version"], "0.5.0");         // node.user_agent_build_version
  EXPECT_EQ(p["ip"], "10.0.0.7");
  EXPECT_EQ(p["open_streams"], 1);
  EXPECT_EQ(p["warnings"][0], "VirtualService default/x: bad");
  EXPECT_EQ(p["types"]["CDS"]["status"], "SYNCED");
  EXPECT_EQ(p["types"]["LDS"]["status"], "NACKED");
  EXPECT_EQ(p["types"]["LDS"]["nack_error"], "listener 0.0.0.0_80: bind failed");
  EXPECT_EQ(p["types"]["RDS"]["status"], "STALE");
  EXPECT_EQ(p["types"]["EDS"]["status"], "NOT SENT");
}

TEST_F(DebugApiTest, OneProxyByItsDecodedId) {
  CapturedResponse r = Get(std::string("/debug/proxies/") + kNode);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.Json()["node_id"], kNode);
  EXPECT_EQ(r.Json()["weftd"]["revision"], 42);
}

TEST_F(DebugApiTest, ConfigAsEnvoyJson) {
  CapturedResponse r =
      Get(std::string("/debug/proxies/") + kNode + "/config", {{"type", "clusters"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  json body = r.Json();
  EXPECT_EQ(body["type_url"], xds::kClusterType);
  ASSERT_EQ(body["resources"].size(), 1u);
  EXPECT_EQ(body["resources"][0]["name"], "outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(body["resources"][0]["type"], "EDS");
  EXPECT_FALSE(body["version"].get<std::string>().empty());

  r = Get(std::string("/debug/proxies/") + kNode + "/config", {{"type", "endpoints"}});
  ASSERT_EQ(r.status, 200u);
  EXPECT_TRUE(r.Json()["resources"].empty());
}

TEST_F(DebugApiTest, IdsWithSlashesAreWhatLiesBeforeConfig) {
  const std::string odd = "router~a/b~x.y";
  cache_.StreamOpened(odd);
  CapturedResponse r = Get("/debug/proxies/" + odd + "/config", {{"type", "listeners"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.Json()["node_id"], odd);
  EXPECT_EQ(Get("/debug/proxies/" + odd).Json()["node_id"], odd);
}

TEST_F(DebugApiTest, ErrorsAreKubernetesStatuses) {
  CapturedResponse r = Get("/debug/proxies/nope~1.2.3.4");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.Json()["reason"], "NotFound");
  EXPECT_EQ(r.Json()["message"], "proxies \"nope~1.2.3.4\" not found");
  r = Get(std::string("/debug/proxies/") + kNode + "/config", {{"type", "secrets"}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.Json()["reason"], "BadRequest");
  r = Get("/debug/other");
  EXPECT_EQ(r.status, 404u);
  HttpRequest post{"POST", "/debug/proxies", {}, ""};
  CapturedResponse posted;
  api_.Handle(post, posted);
  EXPECT_EQ(posted.status, 405u);
  HttpRequest resource{"GET", "/apis/networking.istio.io/v1/virtualservices", {}, ""};
  EXPECT_FALSE(DebugApi::Serves(resource));
}

}  // namespace
}  // namespace weft::control
