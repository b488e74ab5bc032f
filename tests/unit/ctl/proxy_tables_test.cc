// proxy-status / proxy-config tables from the debug API's JSON, and how a PROXY argument picks a
// node id.
#include "ctl/proxy_tables.h"

#include <gtest/gtest.h>

namespace weft::ctl {
namespace {

using nlohmann::json;

const std::vector<std::string> kIds = {
    "sidecar~10.0.0.1~productpage-v1-abc.default~default.svc.cluster.local",
    "sidecar~10.0.0.2~reviews-v1-x.default~default.svc.cluster.local",
    "sidecar~10.0.0.3~reviews-v2-y.default~default.svc.cluster.local", "router~10.0.0.9~gw"};

TEST(ProxyTablesTest, ResolveProxyByIdPrefixOrPodPrefix) {
  EXPECT_EQ(ResolveProxy(kIds, kIds[1]).node_id, kIds[1]);
  EXPECT_EQ(ResolveProxy(kIds, "sidecar~10.0.0.3").node_id, kIds[2]);
  EXPECT_EQ(ResolveProxy(kIds, "productpage").node_id, kIds[0]);
  EXPECT_EQ(ResolveProxy(kIds, "reviews-v2").node_id, kIds[2]);
  EXPECT_EQ(ResolveProxy(kIds, "router").node_id, kIds[3]);

  ProxyChoice ambiguous = ResolveProxy(kIds, "reviews");
  EXPECT_TRUE(ambiguous.node_id.empty());
  EXPECT_EQ(ambiguous.error, "proxy \"reviews\" is ambiguous; it matches 2 proxies:\n  " + kIds[1] +
                                 "\n  " + kIds[2]);
  ProxyChoice missing = ResolveProxy(kIds, "ratings");
  EXPECT_TRUE(missing.node_id.empty());
  EXPECT_EQ(missing.error.rfind("proxy \"ratings\" not found", 0), 0u) << missing.error;
}

TEST(ProxyTablesTest, StatusTableListsConnectedProxies) {
  json debug = json::parse(R"({
    "weftd": {"version": "0.1.0", "revision": 12},
    "proxies": [
      {"node_id": "a", "namespace": "default", "ip": "10.0.0.1", "open_streams": 1,
       "types": {"CDS": {"status": "SYNCED"},
                 "LDS": {"status": "NACKED", "nack_error": "cannot bind 127.0.0.1:80"},
                 "EDS": {"status": "STALE"}, "RDS": {"status": "NOT SENT"}}},
      {"node_id": "gone", "open_streams": 0, "types": {}}]})");
  EXPECT_EQ(ProxyStatusTable(debug).Render(),
            "NAME      NAMESPACE   IP         CDS       LDS       EDS       RDS        WEFTD\n"
            "a         default     10.0.0.1   SYNCED    NACKED    STALE     NOT SENT   "
            "0.1.0 (revision 12)\n");
  EXPECT_EQ(NackErrors(debug), "\nNACK errors:\na LDS: cannot bind 127.0.0.1:80\n");
  EXPECT_EQ(NackErrors(json::parse(R"({"proxies": []})")), "");
}

TEST(ProxyTablesTest, DetailsShowNackErrorsAndWarnings) {
  json proxy = json::parse(R"({
    "node_id": "a", "namespace": "default", "ip": "", "open_streams": 1,
    "weftd": {"version": "0.1.0", "revision": 3},
    "warnings": ["VirtualService default/x: host y not found"],
    "types": {"LDS": {"status": "NACKED", "sent_version": "v2", "acked_version": "v1",
                      "sent_nonce": "4", "nack_version": "v2",
                      "nack_error": "cannot bind 127.0.0.1:80", "pushes": 2, "acks": 1,
                      "nacks": 1},
              "RDS": {"status": "SYNCED", "sent_version": "r2", "acked_version": "r2",
                      "last_nack_version": "r2", "last_nack_error": "no such cluster",
                      "nacks": 1}}})");
  const std::string text = ProxyStatusDetails(proxy);
  EXPECT_NE(text.find("Proxy:      a\n"), std::string::npos) << text;
  EXPECT_NE(text.find("IP:         -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("weftd:      0.1.0 (store revision 3)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("LDS version v2 was rejected: cannot bind 127.0.0.1:80\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  VirtualService default/x: host y not found\n"), std::string::npos);
  EXPECT_NE(text.find("Earlier NACKs (a later response of the type was ACKed):\n"
                      "RDS version r2 was rejected: no such cluster\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("CDS       NOT SENT"), std::string::npos) << text;
}

TEST(ProxyTablesTest, ClusterNamesAndTable) {
  ClusterName n = ParseClusterName("outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(n.direction, "outbound");
  EXPECT_EQ(n.port, "9080");
  EXPECT_EQ(n.subset, "v1");
  EXPECT_EQ(n.fqdn, "reviews.default.svc.cluster.local");
  EXPECT_EQ(ParseClusterName("outbound|9080||r").subset, "-");
  EXPECT_EQ(ParseClusterName("PassthroughCluster").fqdn, "PassthroughCluster");
  json clusters = json::parse(R"([
    {"name": "outbound|9080|v1|reviews.default.svc.cluster.local", "type": "EDS"},
    {"name": "BlackHoleCluster"},
    {"name": "PassthroughCluster", "type": "ORIGINAL_DST"}])");
  EXPECT_EQ(ClustersTable(clusters).Render(),
            "SERVICE FQDN                        PORT      SUBSET    DIRECTION   TYPE\n"
            "reviews.default.svc.cluster.local   9080      v1        outbound    EDS\n"
            "BlackHoleCluster                    -         -         -           STATIC\n"
            "PassthroughCluster                  -         -         -           ORIGINAL_DST\n");
}

TEST(ProxyTablesTest, ListenersOneRowPerFilterChain) {
  json listeners = json::parse(R"([{
    "name": "0.0.0.0_9080",
    "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9080}},
    "filter_chains": [
      {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "rds": {"route_config_name": "9080"}}}]},
      {"filter_chain_match": {"server_names": ["a.com", "b.com"]},
       "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "cluster": "outbound|443||a.com"}}]}]}])");
  EXPECT_EQ(ListenersTable(listeners).Render(),
            "ADDRESS   PORT      MATCH              DESTINATION\n"
            "0.0.0.0   9080      ALL                Route: 9080\n"
            "0.0.0.0   9080      SNI: a.com,b.com   Cluster: outbound|443||a.com\n");
}

TEST(ProxyTablesTest, RoutesNameTheirVirtualService) {
  json routes = json::parse(R"([{"name": "9080", "virtual_hosts": [
    {"name": "reviews.default.svc.cluster.local:9080",
     "domains": ["reviews.default.svc.cluster.local", "reviews", "reviews.default"],
     "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "x"}},
                {"match": {"path": "/exact"}, "route": {"cluster": "x"}}]},
    {"name": "allow_any", "domains": ["*"], "routes": [{"match": {"prefix": "/"}}]}]}])");
  json vs = json::parse(R"({"items": [
    {"metadata": {"name": "gw-only", "namespace": "default"},
     "spec": {"hosts": ["reviews"], "gateways": ["bookinfo-gateway"]}},
    {"metadata": {"name": "reviews", "namespace": "default"}, "spec": {"hosts": ["reviews"]}}]})");
  // Columns: 10, 41 and 48 wide (widest cell + 3, at least 10).
  EXPECT_EQ(RoutesTable(routes, vs).Render(),
            "NAME      VHOST NAME                               DOMAINS                            "
            "             MATCH     VIRTUAL SERVICE\n"
            "9080      reviews.default.svc.cluster.local:9080   reviews.default.svc.cluster.local "
            "+ 2 more...   /*        reviews.default\n"
            "9080      reviews.default.svc.cluster.local:9080   reviews.default.svc.cluster.local "
            "+ 2 more...   /exact    reviews.default\n"
            "9080      allow_any                                *                                  "
            "             /*        -\n");
}

TEST(ProxyTablesTest, EndpointsWithStatus) {
  json cla = json::parse(R"([{"cluster_name": "outbound|9080|v1|r", "endpoints": [{"lb_endpoints": [
    {"endpoint": {"address": {"socket_address": {"address": "10.0.0.1", "port_value": 9080}}}},
    {"endpoint": {"address": {"socket_address": {"address": "10.0.0.2", "port_value": 9080}}},
     "health_status": "DRAINING"}]}]}])");
  EXPECT_EQ(EndpointsTable(cla).Render(),
            "ENDPOINT        STATUS     CLUSTER\n"
            "10.0.0.1:9080   HEALTHY    outbound|9080|v1|r\n"
            "10.0.0.2:9080   DRAINING   outbound|9080|v1|r\n");
}

}  // namespace
}  // namespace weft::ctl
