#include "proxy/cluster_manager/cluster_manager.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "proxy/upstream/dns_cluster.h"
#include "proxy/upstream/static_cluster.h"

namespace weft::cluster {

ClusterManager::ClusterManager(event::Dispatcher& main_dispatcher, PublishHosts publish,
                               stats::Store& store, stats::Registry& host_stats)
    : dispatcher_(main_dispatcher),
      publish_(std::move(publish)),
      store_(store),
      host_stats_(host_stats) {}

ClusterManager::~ClusterManager() {
  health_.clear();
  dns_clusters_.clear();
  shared_resolver_.reset();
}

void ClusterManager::RemoveCluster(const std::string& name) {
  health_.erase(name);
  dns_clusters_.erase(name);
  hosts_.erase(name);
  configs_.erase(name);
}

absl::Status ClusterManager::SetEndpoints(const std::string& name,
                                          std::vector<upstream::LocalityEndpoints> localities) {
  auto it = configs_.find(name);
  if (it == configs_.end())
    return absl::NotFoundError(absl::StrCat("unknown cluster '", name, "'"));
  upstream::ClusterConfig scratch = *it->second;
  scratch.localities = std::move(localities);
  auto hosts = upstream::BuildStaticHostSet(scratch);
  if (!hosts.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster '", name, "': ", hosts.status().message()));
  }
  Publish(name, *hosts);
  return absl::OkStatus();
}

absl::Status ClusterManager::AddCluster(std::shared_ptr<const upstream::ClusterConfig> config) {
  const std::string name = config->name;
  if (configs_.count(name)) RemoveCluster(name);  // an update starts the cluster over
  configs_[name] = config;
  SetUpHealth(config);
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
  upstream::HostHealth health;
  auto h = health_.find(name);
  if (h != health_.end()) {
    // New hosts get sessions (starting failed) and outlier state before the health is read.
    if (h->second.checker) h->second.checker->SetHosts(*hosts);
    if (h->second.outlier) {
      std::vector<std::string> addresses;
      for (const auto& host : hosts->hosts()) addresses.push_back(host->address_string);
      h->second.outlier->SetHosts(addresses);
    }
    health.reserve(hosts->hosts().size());
    for (const auto& host : hosts->hosts())
      health.push_back(HealthFlags(name, host->address_string));
  }
  auto lb_state = upstream::BuildLbSharedState(*config->second, *hosts, health);
  if (!lb_state.ok()) {
    WEFT_LOG(error, "cluster '{}': {}", name, lb_state.status().message());
    return;
  }
  hosts_[name] = hosts;
  publish_(name, std::move(hosts), std::move(*lb_state));
}

void ClusterManager::SetUpHealth(const std::shared_ptr<const upstream::ClusterConfig>& config) {
  if (!config->health_check && !config->outlier_detection) return;
  if (config->type == upstream::DiscoveryType::kOriginalDst) return;  // hosts are per connection
  const std::string name = config->name;
  const std::string prefix =
      absl::StrCat("cluster.", config->alt_stat_name.empty() ? name : config->alt_stat_name, ".");
  ClusterHealth& health = health_[name];
  if (config->health_check) {
    health.checker = std::make_unique<health::HealthChecker>(
        dispatcher_, config, store_, prefix, random_,
        [this, name](const std::string& address, bool healthy) {
          WEFT_LOG(info, "cluster '{}': host {} is now {} (active health check)", name, address,
                   healthy ? "healthy" : "unhealthy");
          Republish(name);
        },
        [this, name](const std::string& address) {
          auto it = health_.find(name);
          if (it != health_.end() && it->second.outlier &&
              it->second.outlier->OnActiveHealthCheckSuccess(address)) {
            Republish(name);
          }
        });
  }
  if (config->outlier_detection) {
    health.outlier = std::make_unique<health::OutlierDetector>(*config->outlier_detection, store_,
                                                               prefix, random_);
    health.outlier_timer = dispatcher_.CreateTimer([this, name] { OnOutlierInterval(name); });
    health.outlier_timer->Enable(config->outlier_detection->interval);
  }
}

uint32_t ClusterManager::HealthFlags(const std::string& cluster, const std::string& address) const {
  auto it = health_.find(cluster);
  if (it == health_.end()) return 0;
  uint32_t flags = 0;
  if (it->second.checker && !it->second.checker->IsHealthy(address)) {
    flags |= upstream::kFailedActiveHc;
  }
  if (it->second.outlier && it->second.outlier->IsEjected(address)) {
    flags |= upstream::kFailedOutlierCheck;
  }
  return flags;
}

double ClusterManager::SuccessRate(const std::string& cluster, const std::string& address) const {
  auto it = health_.find(cluster);
  if (it == health_.end() || !it->second.outlier) return -1;
  return it->second.outlier->SuccessRate(address);
}

void ClusterManager::Republish(const std::string& name) {
  auto hosts = hosts_.find(name);
  if (hosts == hosts_.end()) return;
  Publish(name, hosts->second);
}

void ClusterManager::OnConsecutiveFailure(const std::string& cluster, const std::string& address,
                                          health::EjectionType type) {
  auto it = health_.find(cluster);
  if (it == health_.end() || !it->second.outlier) return;
  if (it->second.outlier->OnConsecutiveFailure(address, type, dispatcher_.Now())) {
    WEFT_LOG(info, "cluster '{}': host {} ejected ({})", cluster, address,
             health::EjectionTypeName(type));
    Republish(cluster);
  }
}

void ClusterManager::OnOutlierInterval(const std::string& name) {
  ClusterHealth& health = health_[name];
  // The workers' interval counters: "<cluster>::<address>::outlier.<counter>", summed.
  std::map<std::string, health::OutcomeTotals> totals;
  const std::string prefix = name + "::";
  const stats::Snapshot snapshot = host_stats_.Merge();
  for (auto it = snapshot.counters.lower_bound(prefix);
       it != snapshot.counters.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const std::string& key = it->first;
    const size_t stat = key.rfind("::outlier.");
    if (stat == std::string::npos || stat < prefix.size()) continue;
    health::OutcomeTotals& t = totals[key.substr(prefix.size(), stat - prefix.size())];
    const std::string_view counter = std::string_view(key).substr(stat + 10);
    if (counter == "external_total") t.external_total = it->second;
    if (counter == "external_failed") t.external_failed = it->second;
    if (counter == "local_total") t.local_total = it->second;
    if (counter == "local_failed") t.local_failed = it->second;
  }
  if (health.outlier->OnInterval(dispatcher_.Now(), totals)) Republish(name);
  health.outlier_timer->Enable(configs_[name]->outlier_detection->interval);
}

std::shared_ptr<const upstream::HostSet> ClusterManager::hosts(const std::string& cluster) const {
  auto it = hosts_.find(cluster);
  return it == hosts_.end() ? nullptr : it->second;
}

}  // namespace weft::cluster
