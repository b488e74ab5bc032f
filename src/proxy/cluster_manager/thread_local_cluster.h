// A worker's view of the clusters: for each, the current host set, this worker's load balancer
// over it, its connection pools (one per host) and its stats. Host sets are built on the main
// thread (static, DNS, later EDS) and posted here as immutable snapshots.
//
// Not thread-safe: owned and used by one worker.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/random.h"
#include "event/dispatcher.h"
#include "proxy/cluster_manager/cluster_stats.h"
#include "proxy/cluster_manager/conn_pool.h"
#include "proxy/cluster_manager/upstream_transport.h"
#include "proxy/health/host_outcome.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::cluster {

// Called on a worker when one of its consecutive-failure counts for a host reaches the
// threshold; must be safe to call from any worker (it posts to the main thread).
using OutlierReporter = std::function<void(const std::string& cluster, const std::string& address,
                                           health::EjectionType type)>;

class ThreadLocalCluster {
 public:
  ThreadLocalCluster(event::Dispatcher& dispatcher, stats::Store& host_stats,
                     std::shared_ptr<const upstream::ClusterConfig> config, stats::Store& store,
                     Random& random, const OutlierReporter* outlier_reporter = nullptr);

  const upstream::ClusterConfig& config() const { return *config_; }
  ClusterStats& stats() { return stats_; }

  // Installs a new host set (and the shared LB state built for it on the main thread).
  void UpdateHosts(std::shared_ptr<const upstream::HostSet> hosts,
                   std::shared_ptr<const upstream::LbSharedState> lb_state);

  // Picks a host, or returns -1 when the cluster has none (the caller answers 503 UH).
  int ChooseHost(const upstream::LbContext& context);
  const upstream::Host& host(int index) const {
    return *hosts_->hosts()[static_cast<size_t>(index)];
  }
  upstream::LoadBalancer* load_balancer() { return lb_.get(); }
  // Outlier detection's data-path hook: what happened to one request to the pool's host. Cheap
  // and a no-op for clusters without outlier_detection; connect failures, timeouts and connect
  // successes are reported by the pool itself.
  void ReportHostResult(HttpConnPool& pool, const health::HostResult& result) {
    pool.ReportResult(result);
  }
  // The connection pool for a host chosen by ChooseHost(), for a request that came downstream
  // over `downstream` (it matters with use_downstream_protocol_config).
  HttpConnPool& PoolFor(int index, http::Protocol downstream = http::Protocol::kHttp11);
  // ORIGINAL_DST: the pool for a destination address, created on demand.
  HttpConnPool& PoolForAddress(const sockaddr* address, socklen_t len,
                               http::Protocol downstream = http::Protocol::kHttp11);
  // The protocol spoken to the upstream for a request that came over `downstream`.
  http::Protocol UpstreamProtocolFor(http::Protocol downstream) const;
  // How this worker connects to `host` (null: ORIGINAL_DST without a host, which takes the
  // cluster's transport_socket): its transport socket and its TLS session cache.
  UpstreamTransport TransportFor(const upstream::Host* host);
  size_t host_count() const { return hosts_ ? hosts_->hosts().size() : 0; }

 private:
  event::Dispatcher& dispatcher_;
  stats::Store& host_stats_;
  std::shared_ptr<const upstream::ClusterConfig> config_;
  ClusterStats stats_;
  Random& random_;
  std::shared_ptr<const upstream::HostSet> hosts_;
  std::unique_ptr<upstream::LoadBalancer> lb_;
  std::shared_ptr<const upstream::LbSharedState> lb_state_;
  const OutlierReporter* outlier_reporter_;
  // A host's pools, one per upstream protocol in use (both only with use_downstream_protocol).
  struct HostPools {
    std::unique_ptr<HttpConnPool> http1;
    std::unique_ptr<HttpConnPool> http2;
    size_t total_connections() const {
      return (http1 ? http1->total_connections() : 0) + (http2 ? http2->total_connections() : 0);
    }
    void CloseIdle() {
      if (http1) http1->CloseIdle();
      if (http2) http2->CloseIdle();
    }
  };
  HttpConnPool& PoolIn(HostPools& pools, const upstream::HostConstSharedPtr& host,
                       http::Protocol downstream);
  // Pools by host address, so a host that survives a DNS refresh keeps its warm connections.
  std::unordered_map<std::string, HostPools> pools_;
  std::unordered_map<std::string, upstream::HostConstSharedPtr> original_dst_hosts_;
  // Pools replaced because their host's transport socket metadata changed (EDS); kept until
  // the cluster goes, as their in-flight requests still run.
  std::vector<std::unique_ptr<HttpConnPool>> replaced_pools_;
  // Last TLS session per host address (session resumption), this worker only.
  std::unordered_map<std::string, std::shared_ptr<tls::SessionCache>> sessions_;
  // total_match_count per transport_socket_match, then the "default" one.
  std::vector<stats::Counter*> match_counts_;
};

class ThreadLocalClusterManager {
 public:
  // `host_stats` keeps the per-host numbers that /clusters shows, apart from `store`.
  ThreadLocalClusterManager(event::Dispatcher& dispatcher, stats::Store& store,
                            stats::Store& host_stats, Random& random)
      : dispatcher_(dispatcher), store_(store), host_stats_(host_stats), random_(random) {}

  // Adds or replaces (CDS update) a cluster. A replaced or removed cluster is kept, unreachable
  // by name, until the worker stops: requests in flight still use its pools.
  void AddCluster(std::shared_ptr<const upstream::ClusterConfig> config);
  void RemoveCluster(const std::string& name);
  void SetOutlierReporter(OutlierReporter reporter) { outlier_reporter_ = std::move(reporter); }
  ThreadLocalCluster* Get(std::string_view name);
  void UpdateHosts(const std::string& name, std::shared_ptr<const upstream::HostSet> hosts,
                   std::shared_ptr<const upstream::LbSharedState> lb_state);

 private:
  event::Dispatcher& dispatcher_;
  stats::Store& store_;
  stats::Store& host_stats_;
  Random& random_;
  std::map<std::string, std::unique_ptr<ThreadLocalCluster>, std::less<>> clusters_;
  std::vector<std::unique_ptr<ThreadLocalCluster>> retired_;
  OutlierReporter outlier_reporter_;
};

}  // namespace weft::cluster
