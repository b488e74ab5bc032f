#include "proxy/filters/istio_stats.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "event/dispatcher.h"
#include "http/header_map.h"
#include "proxy/filters/istio_peer_metadata.h"
#include "proxy/stats/stats.h"

namespace weft::filters::istio {
namespace {

WorkloadMetadata Productpage() {
  WorkloadMetadata w;
  w.node_id = "sidecar~10.0.0.1~productpage-v1-abc.default~default.svc.cluster.local";
  w.name = "productpage-v1-abc";
  w.namespace_ = "default";
  w.workload_name = "productpage-v1";
  w.service_account = "bookinfo-productpage";
  w.cluster_id = "Kubernetes";
  w.labels = {{"app", "productpage"}, {"version", "v1"}};
  return w;
}

TEST(IstioPeerMetadataTest, StructRoundTrip) {
  const WorkloadMetadata w = Productpage();
  auto decoded = DecodePeerHeader(EncodePeerHeader(w));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->name, "productpage-v1-abc");
  EXPECT_EQ(decoded->namespace_, "default");
  EXPECT_EQ(decoded->workload_name, "productpage-v1");
  EXPECT_EQ(decoded->service_account, "bookinfo-productpage");
  EXPECT_EQ(decoded->cluster_id, "Kubernetes");
  EXPECT_EQ(decoded->labels, w.labels);
}

TEST(IstioPeerMetadataTest, DecodesAProtobufStructWithOtherValueTypes) {
  // Struct{fields: {"NAMESPACE": "ns1", "N": 1.5 (number), "B": true, "WORKLOAD_NAME": "w"}}
  // written field by field as protobuf would (struct.proto field numbers).
  auto entry = [](std::string key, std::string value) {
    std::string e;
    e += '\x0a';
    e += static_cast<char>(key.size());
    e += key;
    e += '\x12';
    e += static_cast<char>(value.size());
    e += value;
    std::string out = "\x0a";
    out += static_cast<char>(e.size());
    return out + e;
  };
  auto string_value = [](std::string s) { return std::string("\x1a") + char(s.size()) + s; };
  std::string number_value = "\x11";
  number_value.append(8, '\0');
  const std::string bytes = entry("NAMESPACE", string_value("ns1")) + entry("N", number_value) +
                            entry("B", std::string("\x20\x01", 2)) +
                            entry("WORKLOAD_NAME", string_value("w"));
  auto decoded = DecodeWorkloadStruct(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->namespace_, "ns1");
  EXPECT_EQ(decoded->workload_name, "w");
}

TEST(IstioPeerMetadataTest, RefusesGarbage) {
  EXPECT_FALSE(DecodePeerHeader("not base64 !!!").has_value());
  EXPECT_FALSE(DecodeWorkloadStruct("\x0a\x7f").has_value());  // length past the end
}

TEST(IstioPeerMetadataTest, WorkloadFromNodeReadsLabelsJson) {
  const WorkloadMetadata w =
      WorkloadFromNode("id", {{"NAMESPACE", "shop"},
                              {"WORKLOAD_NAME", "cart"},
                              {"LABELS", R"({"app":"cart","version":"v2","n":3})"}});
  EXPECT_EQ(w.namespace_, "shop");
  EXPECT_EQ(w.Label("app"), "cart");
  EXPECT_EQ(w.Label("version"), "v2");
  EXPECT_EQ(w.Label("n"), "");
  EXPECT_EQ(w.CanonicalService(), "cart");
  EXPECT_EQ(w.CanonicalRevision(), "v2");
}

TEST(IstioLabelsTest, InboundMutualTls) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kInbound;
  WorkloadMetadata local;
  local.namespace_ = "default";
  local.workload_name = "reviews-v1";
  local.labels = {{"app", "reviews"}};
  const WorkloadMetadata peer = Productpage();
  RequestFacts facts;
  facts.peer = &peer;
  facts.authority = "reviews.default.svc.cluster.local:9080";
  facts.upstream_cluster = "inbound|9080||";
  facts.response_code = 200;
  facts.downstream_mtls = true;
  facts.downstream_peer_uri_san = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
  const RequestLabels l =
      ComputeRequestLabels(config, local, "spiffe://cluster.local/ns/default/sa/reviews", facts);
  EXPECT_EQ(l.reporter, "destination");
  EXPECT_EQ(l.source_workload, "productpage-v1");
  EXPECT_EQ(l.source_app, "productpage");
  EXPECT_EQ(l.source_principal, "spiffe://cluster.local/ns/default/sa/bookinfo-productpage");
  EXPECT_EQ(l.destination_principal, "spiffe://cluster.local/ns/default/sa/reviews");
  EXPECT_EQ(l.destination_workload, "reviews-v1");
  EXPECT_EQ(l.destination_version, "unknown");
  EXPECT_EQ(l.destination_service, "reviews.default.svc.cluster.local");
  EXPECT_EQ(l.destination_service_name, "reviews");
  EXPECT_EQ(l.destination_service_namespace, "default");
  EXPECT_EQ(l.connection_security_policy, "mutual_tls");
  EXPECT_EQ(l.response_code, "200");
  EXPECT_EQ(l.response_flags, "-");
  EXPECT_EQ(l.request_protocol, "http");
  EXPECT_EQ(l.grpc_response_status, "");
}

TEST(IstioLabelsTest, InboundPlaintextWithoutPeerMetadata) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kInbound;
  config.disable_host_header_fallback = true;
  RequestFacts facts;
  facts.authority = "example.com";
  facts.response_flags = access_log::kNoRouteFound;
  facts.response_code = 404;
  const RequestLabels l = ComputeRequestLabels(config, WorkloadMetadata{}, "", facts);
  EXPECT_EQ(l.connection_security_policy, "none");
  EXPECT_EQ(l.source_principal, "unknown");
  EXPECT_EQ(l.source_workload, "unknown");
  EXPECT_EQ(l.source_canonical_service, "unknown");
  EXPECT_EQ(l.destination_service, "unknown");  // no host fallback
  EXPECT_EQ(l.response_flags, "NR");
}

TEST(IstioLabelsTest, OutboundTakesTheServiceFromTheIstioClusterName) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kOutbound;
  const WorkloadMetadata local = Productpage();
  RequestFacts facts;
  facts.upstream_cluster = "outbound|9080|v1|reviews.shop.svc.cluster.local";
  facts.authority = "whatever";
  facts.grpc = true;
  facts.grpc_status = "14";
  const RequestLabels l = ComputeRequestLabels(config, local, "spiffe://td/ns/default/sa/x", facts);
  EXPECT_EQ(l.reporter, "source");
  EXPECT_EQ(l.source_workload, "productpage-v1");
  // A plaintext upstream proved no identity either way (Istio's client side).
  EXPECT_EQ(l.source_principal, "unknown");
  EXPECT_EQ(l.destination_principal, "unknown");
  EXPECT_EQ(l.destination_workload, "unknown");
  EXPECT_EQ(l.destination_service, "reviews.shop.svc.cluster.local");
  EXPECT_EQ(l.destination_service_name, "reviews");
  EXPECT_EQ(l.destination_service_namespace, "shop");
  EXPECT_EQ(l.connection_security_policy, "unknown");
  EXPECT_EQ(l.request_protocol, "grpc");
  EXPECT_EQ(l.grpc_response_status, "14");
  EXPECT_EQ(l.response_code, "0");
}

TEST(IstioLabelsTest, OutboundMutualTlsTakesBothPrincipalsFromTheUpstreamConnection) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kOutbound;
  RequestFacts facts;
  facts.upstream_cluster = "outbound|9080||reviews.default.svc.cluster.local";
  facts.upstream_peer_uri_san = "spiffe://cluster.local/ns/default/sa/reviews";
  facts.upstream_local_uri_san = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
  // The configured identity is not what counts: the certificate presented is.
  const RequestLabels l =
      ComputeRequestLabels(config, Productpage(), "spiffe://configured/ns/x/sa/y", facts);
  EXPECT_EQ(l.source_principal, "spiffe://cluster.local/ns/default/sa/bookinfo-productpage");
  EXPECT_EQ(l.destination_principal, "spiffe://cluster.local/ns/default/sa/reviews");
  EXPECT_EQ(l.connection_security_policy, "unknown");
}

TEST(IstioLabelsTest, OutboundTlsWithoutClientCertificateHasOnlyTheServerPrincipal) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kOutbound;
  RequestFacts facts;
  facts.upstream_peer_uri_san = "spiffe://cluster.local/ns/default/sa/reviews";
  const RequestLabels l =
      ComputeRequestLabels(config, Productpage(), "spiffe://a/ns/b/sa/c", facts);
  EXPECT_EQ(l.source_principal, "unknown");
  EXPECT_EQ(l.destination_principal, "spiffe://cluster.local/ns/default/sa/reviews");
}

TEST(IstioLabelsTest, PrometheusRendersTheSeriesWithItsLabels) {
  RequestLabels l;
  l.reporter = "destination";
  l.source_principal = "spiffe://a/\"b\"";
  stats::Registry registry;
  stats::Store& store = registry.NewStore();
  store.counter(SeriesName("istio_requests_total", l)).Inc(2);
  store.histogram(SeriesName("istio_request_duration_milliseconds", l)).Record(3);
  const std::string text = stats::FormatPrometheus(registry.Merge());
  EXPECT_NE(text.find("# TYPE istio_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("istio_requests_total{reporter=\"destination\","), std::string::npos);
  EXPECT_NE(text.find("source_principal=\"spiffe://a/\\\"b\\\"\""), std::string::npos);
  EXPECT_NE(text.find("connection_security_policy=\"\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE istio_request_duration_milliseconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("connection_security_policy=\"\",le=\"5\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_count{reporter="), std::string::npos);
}

TEST(IstioLabelsTest, TcpMetricsHaveNoResponseCodeLabels) {
  IstioStatsConfig config;
  config.direction = TrafficDirection::kInbound;
  access_log::StreamInfo info;
  info.upstream_cluster = "inbound|5432||";
  info.downstream_tls = true;
  info.downstream_peer_uri_san = "spiffe://cluster.local/ns/db/sa/client";
  stats::Registry registry;
  stats::Store& store = registry.NewStore();
  RecordTcpOpened(config, store, info);
  RecordTcpClosed(config, store, info, 100, 2000);
  const std::string text = stats::FormatPrometheus(registry.Merge());
  EXPECT_EQ(text.find("response_code"), std::string::npos) << text;
  EXPECT_EQ(text.find("grpc_response_status"), std::string::npos);
  EXPECT_NE(text.find("request_protocol=\"tcp\",response_flags=\"-\","
                      "connection_security_policy=\"mutual_tls\"} 2000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE istio_tcp_connections_opened_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE istio_tcp_received_bytes_total counter"), std::string::npos);
}

// A FilterCallbacks with a real dispatcher (the filter reads the clock) and a store.
class Callbacks : public FilterCallbacks {
 public:
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  Random& random() override { std::abort(); }
  stats::Store& stats() override { return store; }
  const std::string& stat_prefix() override { return prefix_; }
  access_log::StreamInfo& info() override { return info_; }
  const router::RouteFilterConfig* PerRouteConfig(std::string_view) override { return nullptr; }
  const router::RouteEntry* route() override { return nullptr; }
  void ContinueDecoding() override {}
  void SendLocalReply(uint32_t, std::string_view, std::string_view, uint64_t,
                      std::optional<uint32_t>) override {}

  stats::Registry registry;
  stats::Store& store = registry.NewStore();
  access_log::StreamInfo info_;

 private:
  event::Dispatcher dispatcher_;
  std::string prefix_ = "http.x.";
};

TEST(IstioStatsFilterTest, ExchangesMetadataBothWays) {
  SetLocalWorkload(Productpage(), "cluster.local");
  auto outbound_config = std::make_shared<IstioStatsConfig>();
  outbound_config->direction = TrafficDirection::kOutbound;
  auto inbound_config = std::make_shared<IstioStatsConfig>();
  inbound_config->direction = TrafficDirection::kInbound;
  auto outbound = CreateIstioStatsFilterFactory("istio.stats", outbound_config);
  auto inbound = CreateIstioStatsFilterFactory("istio.stats", inbound_config);

  Callbacks client, server;
  auto client_filter = outbound->Create(client);
  auto server_filter = inbound->Create(server);

  http::HeaderMap request;
  request.Add(":method", "GET");
  request.Add(":authority", "reviews:9080");
  EXPECT_EQ(client_filter->DecodeHeaders(request, true), FilterStatus::kContinue);
  ASSERT_TRUE(request.Has("x-envoy-peer-metadata"));
  EXPECT_EQ(request.GetOr("x-envoy-peer-metadata-id"), Productpage().node_id);

  // The server sidecar reads and removes them.
  server.info_.request_headers = &request;
  server_filter->DecodeHeaders(request, true);
  EXPECT_FALSE(request.Has("x-envoy-peer-metadata"));
  EXPECT_FALSE(request.Has("x-envoy-peer-metadata-id"));

  http::HeaderMap response;
  response.Add(":status", "200");
  server_filter->EncodeHeaders(response, true);
  EXPECT_TRUE(response.Has("x-envoy-peer-metadata"));
  client_filter->EncodeHeaders(response, true);
  EXPECT_FALSE(response.Has("x-envoy-peer-metadata"));

  server.info_.response_code = 200;
  client.info_.response_code = 200;
  server_filter->OnDestroy();
  client_filter->OnDestroy();
  const std::string server_text = stats::FormatPrometheus(server.registry.Merge());
  EXPECT_NE(server_text.find("reporter=\"destination\",source_workload=\"productpage-v1\""),
            std::string::npos)
      << server_text;
  EXPECT_NE(server_text.find("connection_security_policy=\"none\"} 1"), std::string::npos);
  const std::string client_text = stats::FormatPrometheus(client.registry.Merge());
  EXPECT_NE(client_text.find("reporter=\"source\""), std::string::npos) << client_text;
  // The client learned the server's workload from the response (here: the same node).
  EXPECT_NE(client_text.find("destination_workload=\"productpage-v1\""), std::string::npos);
  EXPECT_NE(client_text.find("destination_service=\"reviews\""), std::string::npos);
}

}  // namespace
}  // namespace weft::filters::istio
