#include "proxy/stats/stats.h"

#include <gtest/gtest.h>

#include <thread>

namespace weft::stats {
namespace {

TEST(StatsTest, PerThreadStoresMergeOnRead) {
  Registry registry;
  Store& a = registry.NewStore();
  Store& b = registry.NewStore();
  std::thread ta([&] {
    for (int i = 0; i < 1000; ++i) a.counter("cluster.web.upstream_rq_total").Inc();
  });
  std::thread tb([&] {
    for (int i = 0; i < 500; ++i) b.counter("cluster.web.upstream_rq_total").Inc();
  });
  ta.join();
  tb.join();
  a.gauge("cluster.web.upstream_cx_active").Set(3);
  b.gauge("cluster.web.upstream_cx_active").Set(2);
  Snapshot s = registry.Merge();
  EXPECT_EQ(s.counters["cluster.web.upstream_rq_total"], 1500u);
  EXPECT_EQ(s.gauges["cluster.web.upstream_cx_active"], 5);
}

TEST(StatsTest, TextFormatIsSortedAndFilterable) {
  Registry registry;
  Store& a = registry.NewStore();
  a.counter("http.in.downstream_rq_total").Inc(2);
  a.counter("cluster.b.upstream_rq_total").Inc(1);
  Snapshot s = registry.Merge();
  EXPECT_EQ(FormatText(s), "cluster.b.upstream_rq_total: 1\nhttp.in.downstream_rq_total: 2\n");
  EXPECT_EQ(FormatText(s, "http."), "http.in.downstream_rq_total: 2\n");
}

TEST(StatsTest, PrometheusExtractsEnvoyTags) {
  Registry registry;
  Store& a = registry.NewStore();
  a.counter("cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_total").Inc(7);
  a.counter("http.ingress_http.downstream_rq_2xx").Inc(4);
  a.counter("listener.0.0.0.0_10000.downstream_cx_total").Inc(1);
  a.histogram("cluster.web.upstream_rq_time").Record(3);
  std::string text = FormatPrometheus(registry.Merge());
  EXPECT_NE(text.find("# TYPE envoy_cluster_upstream_rq_total counter\n"
                      "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"outbound|9080||reviews."
                      "default.svc.cluster.local\"} 7\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("envoy_http_downstream_rq_2xx{envoy_http_conn_manager_prefix=\"ingress_http\"} 4"),
      std::string::npos);
  EXPECT_NE(
      text.find("envoy_listener_downstream_cx_total{envoy_listener_address=\"0.0.0.0_10000\"} 1"),
      std::string::npos);
  EXPECT_NE(
      text.find("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"web\",le=\"5\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"web\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace weft::stats
