#include "proxy/cluster_manager/thread_local_cluster.h"

#include "base/logging.h"

namespace weft::cluster {

ThreadLocalCluster::ThreadLocalCluster(event::Dispatcher& dispatcher, stats::Store& host_stats,
                                       std::shared_ptr<const upstream::ClusterConfig> config,
                                       stats::Store& store, Random& random,
                                       const OutlierReporter* outlier_reporter)
    : dispatcher_(dispatcher),
      host_stats_(host_stats),
      config_(std::move(config)),
      stats_(ClusterStats::Create(
          store, config_->alt_stat_name.empty() ? config_->name : config_->alt_stat_name)),
      random_(random),
      outlier_reporter_(outlier_reporter) {
  const std::string prefix =
      "cluster." + (config_->alt_stat_name.empty() ? config_->name : config_->alt_stat_name) + ".";
  bool any_tls = config_->tls != nullptr;
  for (const auto& m : config_->transport_socket_matches) {
    any_tls = any_tls || m.tls != nullptr;
    match_counts_.push_back(&store.counter(prefix + m.name + ".total_match_count"));
  }
  if (!config_->transport_socket_matches.empty()) {
    match_counts_.push_back(&store.counter(prefix + "default.total_match_count"));
  }
  if (any_tls) stats_.ssl = tls::TlsStats::Create(store, prefix);
}

UpstreamTransport ThreadLocalCluster::TransportFor(const upstream::Host* host) {
  UpstreamTransport out;
  int match = host ? SelectTransportSocketMatch(*config_, host->transport_socket_match) : -1;
  out.tls = match < 0 ? config_->tls.get()
                      : config_->transport_socket_matches[static_cast<size_t>(match)].tls.get();
  if (!match_counts_.empty()) {
    out.match_count = match < 0 ? match_counts_.back() : match_counts_[static_cast<size_t>(match)];
  }
  if (out.tls != nullptr && host != nullptr) {
    auto& cache = sessions_[host->address_string];
    if (!cache) cache = std::make_shared<tls::SessionCache>();
    out.sessions = cache;
  }
  return out;
}

void ThreadLocalCluster::UpdateHosts(std::shared_ptr<const upstream::HostSet> hosts,
                                     std::shared_ptr<const upstream::LbSharedState> lb_state) {
  auto lb = upstream::CreateLoadBalancer(*config_, hosts, lb_state, random_);
  if (!lb.ok()) {
    WEFT_LOG(error, "cluster {}: cannot build load balancer: {}", config_->name,
             lb.status().message());
    stats_.update_failure.Inc();
    return;
  }
  // Pools of hosts that left keep serving their in-flight requests but take no new ones; drop
  // their idle connections now.
  std::unordered_map<std::string, bool> still_present;
  for (auto& h : hosts->hosts()) still_present[h->address_string] = true;
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (!still_present.count(it->first) && it->second.total_connections() == 0) {
      it = pools_.erase(it);
    } else {
      if (!still_present.count(it->first)) it->second.CloseIdle();
      ++it;
    }
  }
  // The same host set again means only health changed: not a membership change.
  const bool membership_changed = hosts != hosts_;
  hosts_ = std::move(hosts);
  lb_ = std::move(*lb);
  lb_state_ = std::move(lb_state);
  if (membership_changed) stats_.membership_change.Inc();
  stats_.update_success.Inc();
  stats_.membership_total.Set(static_cast<int64_t>(hosts_->hosts().size()));
  const int64_t healthy = lb_state_ ? static_cast<int64_t>(lb_state_->healthy_hosts)
                                    : static_cast<int64_t>(hosts_->hosts().size());
  stats_.membership_healthy.Set(healthy);
}

int ThreadLocalCluster::ChooseHost(const upstream::LbContext& context) {
  if (!lb_ || !hosts_ || hosts_->hosts().empty()) return -1;
  const int host = lb_->ChooseHost(context);
  // Envoy counts each choice made while the chosen level is in panic.
  if (host >= 0 && lb_state_ && lb_state_->any_panic &&
      lb_state_->panic_by_priority[hosts_->hosts()[static_cast<size_t>(host)]->priority]) {
    stats_.lb_healthy_panic.Inc();
  }
  return host;
}

http::Protocol ThreadLocalCluster::UpstreamProtocolFor(http::Protocol downstream) const {
  switch (config_->protocol) {
    case upstream::UpstreamProtocol::kHttp2:
      return http::Protocol::kHttp2;
    case upstream::UpstreamProtocol::kUseDownstream:
      return downstream == http::Protocol::kHttp2 ? http::Protocol::kHttp2
                                                  : http::Protocol::kHttp11;
    default:
      return http::Protocol::kHttp11;
  }
}

HttpConnPool& ThreadLocalCluster::PoolIn(HostPools& pools, const upstream::HostConstSharedPtr& host,
                                         http::Protocol downstream) {
  http::Protocol protocol = UpstreamProtocolFor(downstream);
  auto& pool = protocol == http::Protocol::kHttp2 ? pools.http2 : pools.http1;
  if (pool && pool->host().transport_socket_match != host->transport_socket_match) {
    // EDS changed how this address is secured (a sidecar came or went): new connections go
    // through a new pool; the old one finishes what it carries.
    pool->CloseIdle();
    replaced_pools_.push_back(std::move(pool));
  }
  if (!pool) {
    pool = std::make_unique<HttpConnPool>(
        dispatcher_, *config_, host, stats_,
        HostStats::Create(host_stats_, config_->name, host->address_string), TransportFor(&*host),
        protocol);
    if (config_->outlier_detection && outlier_reporter_ && *outlier_reporter_) {
      pool->EnableOutlierReporting(
          std::make_unique<health::HostOutcomeRecorder>(health::HostOutcomeCounters::Create(
              host_stats_, config_->name, host->address_string)),
          [this, address = host->address_string](health::EjectionType type) {
            (*outlier_reporter_)(config_->name, address, type);
          });
    }
  }
  return *pool;
}

HttpConnPool& ThreadLocalCluster::PoolFor(int index, http::Protocol downstream) {
  const upstream::HostConstSharedPtr& host = hosts_->hosts()[static_cast<size_t>(index)];
  return PoolIn(pools_[host->address_string], host, downstream);
}

HttpConnPool& ThreadLocalCluster::PoolForAddress(const sockaddr* address, socklen_t len,
                                                 http::Protocol downstream) {
  upstream::HostConstSharedPtr probe = upstream::MakeHost(address, len, "", 1);
  return PoolIn(pools_[probe->address_string], probe, downstream);
}

void ThreadLocalClusterManager::AddCluster(std::shared_ptr<const upstream::ClusterConfig> config) {
  std::string name = config->name;
  auto& slot = clusters_[name];
  if (slot) retired_.push_back(std::move(slot));
  slot = std::make_unique<ThreadLocalCluster>(dispatcher_, host_stats_, std::move(config), store_,
                                              random_, &outlier_reporter_);
}

void ThreadLocalClusterManager::RemoveCluster(const std::string& name) {
  auto it = clusters_.find(name);
  if (it == clusters_.end()) return;
  retired_.push_back(std::move(it->second));
  clusters_.erase(it);
}

ThreadLocalCluster* ThreadLocalClusterManager::Get(std::string_view name) {
  auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : it->second.get();
}

void ThreadLocalClusterManager::UpdateHosts(
    const std::string& name, std::shared_ptr<const upstream::HostSet> hosts,
    std::shared_ptr<const upstream::LbSharedState> lb_state) {
  if (ThreadLocalCluster* c = Get(name)) c->UpdateHosts(std::move(hosts), std::move(lb_state));
}

}  // namespace weft::cluster
