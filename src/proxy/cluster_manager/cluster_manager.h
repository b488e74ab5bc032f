// The main thread's side of the clusters: discovers each cluster's hosts (static endpoints, DNS,
// later EDS), builds an immutable HostSet and the load balancers' shared tables for it, and
// publishes both to every worker. Also the source of truth for the admin /clusters page.
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
  ClusterManager(event::Dispatcher& main_dispatcher, PublishHosts publish);
  ~ClusterManager();

  absl::Status AddCluster(std::shared_ptr<const upstream::ClusterConfig> config);
  // Current hosts of a cluster (for /clusters), or nullptr.
  std::shared_ptr<const upstream::HostSet> hosts(const std::string& cluster) const;
  const std::map<std::string, std::shared_ptr<const upstream::ClusterConfig>>& clusters() const {
    return configs_;
  }

 private:
  void Publish(const std::string& name, std::shared_ptr<const upstream::HostSet> hosts);

  event::Dispatcher& dispatcher_;
  PublishHosts publish_;
  std::map<std::string, std::shared_ptr<const upstream::ClusterConfig>> configs_;
  std::map<std::string, std::shared_ptr<const upstream::HostSet>> hosts_;
  std::map<std::string, std::unique_ptr<upstream::DnsCluster>> dns_clusters_;
  std::unique_ptr<event::DnsResolver> shared_resolver_;
};

}  // namespace weft::cluster
