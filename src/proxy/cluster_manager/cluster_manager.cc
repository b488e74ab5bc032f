#include "proxy/cluster_manager/cluster_manager.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "proxy/upstream/dns_cluster.h"
#include "proxy/upstream/static_cluster.h"

namespace weft::cluster {

ClusterManager::ClusterManager(event::Dispatcher& main_dispatcher, PublishHosts publish)
    : dispatcher_(main_dispatcher), publish_(std::move(publish)) {}

ClusterManager::~ClusterManager() {
  dns_clusters_.clear();
  shared_resolver_.reset();
}

absl::Status ClusterManager::AddCluster(std::shared_ptr<const upstream::ClusterConfig> config) {
  const std::string name = config->name;
  configs_[name] = config;
  switch (config->type) {
    case upstream::DiscoveryType::kStatic: {
      auto hosts = upstream::BuildStaticHostSet(*config);
      if (!hosts.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("cluster '", name, "': ", hosts.status().message()));
      Publish(name, *hosts);
      return absl::OkStatus();
    }
    case upstream::DiscoveryType::kStrictDns:
    case upstream::DiscoveryType::kLogicalDns: {
      if (!shared_resolver_) {
        // One resolver (system resolv.conf and /etc/hosts) for every DNS cluster that does not
        // name its own dns_resolvers.
        auto resolver = event::DnsResolver::Create(dispatcher_);
        if (!resolver.ok()) {
          return absl::UnavailableError(
              absl::StrCat("cluster '", name, "': ", resolver.status().message()));
        }
        shared_resolver_ = std::move(*resolver);
      }
      auto dns = upstream::DnsCluster::Create(
          dispatcher_, config, shared_resolver_.get(),
          [this, name](std::shared_ptr<const upstream::HostSet> hosts) {
            Publish(name, std::move(hosts));
          });
      if (!dns.ok()) return dns.status();  // the message names the cluster
      (*dns)->Start();
      dns_clusters_[name] = std::move(*dns);
      return absl::OkStatus();
    }
    case upstream::DiscoveryType::kOriginalDst:
      // Hosts come from each connection's original destination, per worker.
      return absl::OkStatus();
    case upstream::DiscoveryType::kEds:
      Publish(name, upstream::HostSet::Create({}));
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

void ClusterManager::Publish(const std::string& name,
                             std::shared_ptr<const upstream::HostSet> hosts) {
  auto config = configs_.find(name);
  if (config == configs_.end()) return;
  auto lb_state = upstream::BuildLbSharedState(*config->second, *hosts);
  if (!lb_state.ok()) {
    WEFT_LOG(error, "cluster '{}': {}", name, lb_state.status().message());
    return;
  }
  hosts_[name] = hosts;
  publish_(name, std::move(hosts), std::move(*lb_state));
}

std::shared_ptr<const upstream::HostSet> ClusterManager::hosts(const std::string& cluster) const {
  auto it = hosts_.find(cluster);
  return it == hosts_.end() ? nullptr : it->second;
}

}  // namespace weft::cluster
