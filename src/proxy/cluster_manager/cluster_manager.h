// The main thread's side of the clusters: discovers each cluster's hosts (static endpoints, DNS,
// later EDS), builds an immutable HostSet and the load balancers' shared tables for it, and
// publishes both to every worker. Also the source of truth for the admin /clusters page.
//
// Host health lives here too: each cluster's active health checker and outlier detector run on
// this thread, and a host's health flags are read from them. When a verdict changes, the cluster
// is republished (same HostSet, new LbSharedState with per-priority healthy views), so workers
// learn about health the same lock-free way they learn about membership.
//
// Not thread-safe: main thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "event/dispatcher.h"
#include "event/dns_resolver.h"
#include "proxy/health/health_checker.h"
#include "proxy/health/outlier_detector.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {
class DnsCluster;
}

namespace weft::cluster {

using PublishHosts =
    std::function<void(const std::string& cluster, std::shared_ptr<const upstream::HostSet>,
                       std::shared_ptr<const upstream::LbSharedState>)>;

class ClusterManager {
 public:
  // `store` is the main thread's stats store (health_check.* and outlier_detection.* stats);
  // `host_stats` the registry of per-host numbers, where workers count outlier samples.
  ClusterManager(event::Dispatcher& main_dispatcher, PublishHosts publish, stats::Store& store,
                 stats::Registry& host_stats);
  ~ClusterManager();

  // Adds a cluster, or replaces the one of the same name (CDS update): its discovery, health
  // checker and outlier detector start over with the new config.
  absl::Status AddCluster(std::shared_ptr<const upstream::ClusterConfig> config);
  // CDS removal: discovery and health checking stop; workers are told separately.
  void RemoveCluster(const std::string& name);
  // EDS: the hosts of a `type: EDS` cluster (IP endpoints), published like a STATIC cluster's.
  absl::Status SetEndpoints(const std::string& name,
                            std::vector<upstream::LocalityEndpoints> localities);
  // Current hosts of a cluster (for /clusters), or nullptr.
  std::shared_ptr<const upstream::HostSet> hosts(const std::string& cluster) const;
  const std::map<std::string, std::shared_ptr<const upstream::ClusterConfig>>& clusters() const {
    return configs_;
  }
  // A host's HealthFlag bits (0 = healthy).
  uint32_t HealthFlags(const std::string& cluster, const std::string& address) const;
  // The host's success rate from the last outlier detection interval, or -1.
  double SuccessRate(const std::string& cluster, const std::string& address) const;
  // A worker's consecutive-failure count for a host reached its threshold (main thread; workers
  // Post() here).
  void OnConsecutiveFailure(const std::string& cluster, const std::string& address,
                            health::EjectionType type);

 private:
  struct ClusterHealth {
    std::unique_ptr<health::HealthChecker> checker;
    std::unique_ptr<health::OutlierDetector> outlier;
    std::unique_ptr<event::Timer> outlier_timer;
  };
  void Publish(const std::string& name, std::shared_ptr<const upstream::HostSet> hosts);
  void SetUpHealth(const std::shared_ptr<const upstream::ClusterConfig>& config);
  // Health changed: the same hosts again, with new healthy views.
  void Republish(const std::string& name);
  void OnOutlierInterval(const std::string& name);

  event::Dispatcher& dispatcher_;
  PublishHosts publish_;
  std::map<std::string, std::shared_ptr<const upstream::ClusterConfig>> configs_;
  std::map<std::string, std::shared_ptr<const upstream::HostSet>> hosts_;
  std::map<std::string, std::unique_ptr<upstream::DnsCluster>> dns_clusters_;
  std::unique_ptr<event::DnsResolver> shared_resolver_;
  stats::Store& store_;
  stats::Registry& host_stats_;
  FastRandom random_ = FastRandom::FromClockAndThread();
  std::map<std::string, ClusterHealth> health_;
};

}  // namespace weft::cluster
