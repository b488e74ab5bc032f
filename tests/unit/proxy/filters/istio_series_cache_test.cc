#include "proxy/filters/istio_series_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/filters/istio_peer_metadata.h"
#include "proxy/stats/stats.h"

namespace weft::filters::istio {
namespace {

WorkloadMetadata Workload(std::string name, std::string ns, std::string app) {
  WorkloadMetadata w;
  w.node_id = "sidecar~10.0.0.1~" + name + "-abc." + ns + "~" + ns + ".svc.cluster.local";
  w.name = name + "-abc";
  w.namespace_ = ns;
  w.workload_name = name;
  w.service_account = name;
  w.cluster_id = "Kubernetes";
  w.labels = {{"app", app}, {"version", "v1"}};
  return w;
}

// Every combination of the facts the labels depend on, each varied on its own.
std::vector<RequestFacts> FactsMatrix(const std::vector<const WorkloadMetadata*>& peers) {
  std::vector<RequestFacts> out;
  RequestFacts f;
  for (const WorkloadMetadata* peer : peers) {
    f.peer = peer;
    for (std::string_view cluster :
         {"outbound|9080||reviews.default.svc.cluster.local", "inbound|9080||", "plain"}) {
      f.upstream_cluster = cluster;
      for (std::string_view authority : {"ratings:9080", "details.other.svc.cluster.local"}) {
        f.authority = authority;
        for (std::optional<uint32_t> code :
             {std::optional<uint32_t>(200), std::optional<uint32_t>(503),
              std::optional<uint32_t>()}) {
          f.response_code = code;
          for (uint64_t flags : {0, 1}) {
            f.response_flags = flags;
            for (std::string_view grpc_status : {"none", "0", "14"}) {
              f.grpc = grpc_status != "none";
              f.grpc_status = f.grpc ? grpc_status : "";
              for (bool mtls : {false, true}) {
                f.downstream_mtls = mtls;
                f.downstream_peer_uri_san = mtls ? "spiffe://cluster.local/ns/default/sa/a" : "";
                // The upstream connection's certificates (outbound principals).
                for (int upstream : {0, 1, 2}) {
                  f.upstream_peer_uri_san =
                      upstream > 0 ? "spiffe://cluster.local/ns/default/sa/reviews" : "";
                  f.upstream_local_uri_san =
                      upstream > 1 ? "spiffe://cluster.local/ns/default/sa/a" : "";
                  out.push_back(f);
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

// The store keeps one object per series name, so equal pointers mean the same series.
void ExpectSameHttp(const HttpSeries& a, const HttpSeries& b) {
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.request_bytes, b.request_bytes);
  EXPECT_EQ(a.response_bytes, b.response_bytes);
}

class IstioSeriesCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLocalWorkload(Workload("productpage", "default", "pp"), "td"); }
  stats::Registry registry_;
  stats::Store& store_ = registry_.NewStore();
};

TEST_F(IstioSeriesCacheTest, CachedPathGivesTheSlowPathsSeriesIncludingPastTheCap) {
  constexpr size_t kCapacity = 500;
  SeriesCache cache(store_, kCapacity);
  std::optional<WorkloadMetadata> overflow;
  const WorkloadMetadata* reviews =
      cache.Peer(EncodePeerHeader(Workload("reviews", "default", "reviews")), overflow);
  const WorkloadMetadata* ratings =
      cache.Peer(EncodePeerHeader(Workload("ratings", "other", "ratings")), overflow);
  ASSERT_NE(reviews, nullptr);
  ASSERT_NE(ratings, nullptr);

  size_t checked = 0;
  for (TrafficDirection direction : {TrafficDirection::kInbound, TrafficDirection::kOutbound}) {
    for (bool no_fallback : {false, true}) {
      IstioStatsConfig config;
      config.direction = direction;
      config.disable_host_header_fallback = no_fallback;
      for (const RequestFacts& facts : FactsMatrix({nullptr, reviews, ratings})) {
        // Twice: the miss that fills the cache, then the hit (or, past the cap, the slow path).
        for (int round = 0; round < 2; ++round) {
          SCOPED_TRACE(SeriesName("m", ComputeRequestLabels(config, LocalWorkload(), "", facts)));
          ExpectSameHttp(cache.Http(config, facts), ResolveHttpSeries(store_, config, facts));
          const TcpSeries tcp = cache.Tcp(config, facts);
          const TcpSeries slow = ResolveTcpSeries(store_, config, facts);
          EXPECT_EQ(tcp.opened, slow.opened);
          EXPECT_EQ(tcp.closed, slow.closed);
          EXPECT_EQ(tcp.received_bytes, slow.received_bytes);
          EXPECT_EQ(tcp.sent_bytes, slow.sent_bytes);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, kCapacity * 4);
  EXPECT_EQ(cache.size(), kCapacity);
  // Every request past the cap that missed was counted.
  const stats::Snapshot snapshot = registry_.Merge();
  ASSERT_TRUE(snapshot.counters.contains(std::string(SeriesCache::kOverflowCounter)));
  EXPECT_GT(snapshot.counters.at(std::string(SeriesCache::kOverflowCounter)), 0u);
}

TEST_F(IstioSeriesCacheTest, DistinctFactsGiveDistinctSeriesAndRecordIntoThem) {
  SeriesCache cache(store_);
  IstioStatsConfig config;
  config.direction = TrafficDirection::kInbound;
  RequestFacts ok;
  ok.authority = "reviews:9080";
  ok.response_code = 200;
  RequestFacts failed = ok;
  failed.response_code = 503;
  cache.Http(config, ok).requests->Inc();
  cache.Http(config, ok).requests->Inc();
  cache.Http(config, failed).requests->Inc();
  EXPECT_NE(cache.Http(config, ok).requests, cache.Http(config, failed).requests);
  const stats::Snapshot snapshot = registry_.Merge();
  const std::string labels_ok = SeriesName(
      "istio_requests_total",
      ComputeRequestLabels(config, LocalWorkload(), "spiffe://td/ns/default/sa/productpage", ok));
  EXPECT_EQ(snapshot.counters.at(labels_ok), 2u);
}

TEST_F(IstioSeriesCacheTest, PeersAreDecodedOnceAndCapped) {
  SeriesCache cache(store_, SeriesCache::kDefaultCapacity, /*peer_capacity=*/1);
  std::optional<WorkloadMetadata> overflow;
  const std::string a = EncodePeerHeader(Workload("a", "default", "a"));
  const std::string b = EncodePeerHeader(Workload("b", "default", "b"));
  const WorkloadMetadata* first = cache.Peer(a, overflow);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(cache.Peer(a, overflow), first);
  EXPECT_EQ(first->workload_name, "a");
  EXPECT_EQ(cache.Peer("not base64 of a Struct!", overflow), nullptr);
  // Past the cap: decoded into the caller's storage, and its series still come out right (by
  // the slow path, since the cache cannot key on a peer it does not own).
  const WorkloadMetadata* second = cache.Peer(b, overflow);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second, &*overflow);
  EXPECT_EQ(second->workload_name, "b");
  EXPECT_EQ(cache.peers(), 1u);
  IstioStatsConfig config;
  config.direction = TrafficDirection::kInbound;
  RequestFacts facts;
  facts.peer = second;
  facts.response_code = 200;
  ExpectSameHttp(cache.Http(config, facts), ResolveHttpSeries(store_, config, facts));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(IstioSeriesCacheTest, ExchangedPeersAreInternedByTheirStruct) {
  SeriesCache cache(store_);
  const std::string frame = EncodeMxFrame(Workload("db", "shop", "db"));
  MxRead a = ReadMxFrame(frame);
  MxRead b = ReadMxFrame(frame);
  ASSERT_TRUE(a.peer.has_value() && b.peer.has_value());
  std::optional<WorkloadMetadata> overflow;
  const WorkloadMetadata* first = cache.PeerFromExchange(a.peer_struct, *a.peer, overflow);
  const WorkloadMetadata* second = cache.PeerFromExchange(b.peer_struct, *b.peer, overflow);
  EXPECT_EQ(first, second);  // one peer, so one cache key for its connections' series
  EXPECT_EQ(first->workload_name, "db");
  EXPECT_EQ(cache.peers(), 1u);
  EXPECT_FALSE(overflow.has_value());
  // The same workload in the HTTP header form is keyed apart (base64 never equals the bytes).
  std::optional<WorkloadMetadata> header_overflow;
  EXPECT_NE(cache.Peer(EncodePeerHeader(Workload("db", "shop", "db")), header_overflow), nullptr);
  EXPECT_EQ(cache.peers(), 2u);
}

TEST_F(IstioSeriesCacheTest, ANewLocalWorkloadEmptiesTheCache) {
  SeriesCache cache(store_);
  IstioStatsConfig config;
  RequestFacts facts;
  facts.authority = "reviews";
  const HttpSeries before = cache.Http(config, facts);
  SetLocalWorkload(Workload("details", "default", "details"), "td");
  const HttpSeries after = cache.Http(config, facts);
  EXPECT_NE(before.requests, after.requests);
  ExpectSameHttp(after, ResolveHttpSeries(store_, config, facts));
}

TEST_F(IstioSeriesCacheTest, OneCachePerStore) {
  EXPECT_EQ(&SeriesCache::Of(store_), &SeriesCache::Of(store_));
  stats::Store& other = registry_.NewStore();
  EXPECT_NE(&SeriesCache::Of(store_), &SeriesCache::Of(other));
}

}  // namespace
}  // namespace weft::filters::istio
