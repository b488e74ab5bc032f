// The Server's xDS side: applies CDS, EDS, LDS and RDS updates on the main thread, the way the
// bootstrap installed its static resources, without cutting what is in flight. Workers keep
// replaced clusters and listener runtimes alive for the connections that still use them.
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "network/listen_socket.h"
#include "network/udp_socket.h"
#include "proxy/dns/resolv_conf.h"
#include "proxy/server/server.h"

namespace weft::proxy {
namespace {

// The HCM configs of a listener's filter chains (default chain included).
template <typename Config, typename Fn>
void ForEachHcm(Config& config, Fn fn) {
  for (auto& chain : config.filter_chains) {
    if (auto* hcm = std::get_if<listener::HttpConnectionManagerConfig>(&chain.filter)) fn(*hcm);
  }
  if (config.default_filter_chain) {
    if (auto* hcm = std::get_if<listener::HttpConnectionManagerConfig>(
            &config.default_filter_chain->filter)) {
      fn(*hcm);
    }
  }
}

void CloseAll(std::vector<int>& fds) {
  for (int fd : fds) close(fd);
  fds.clear();
}

}  // namespace

bool Server::NeedsNewSockets(const listener::ListenerConfig& config) const {
  auto current = std::find_if(listeners_.begin(), listeners_.end(),
                              [&](const auto& l) { return l->config->name == config.name; });
  if (current == listeners_.end()) return true;
  auto address = network::MakeAddress(config.address, config.port);
  return !address.ok() || (*current)->address.ToString() != address->ToString() ||
         (*current)->config->bind_to_port != config.bind_to_port ||
         (*current)->config->udp != config.udp;
}

absl::StatusOr<std::vector<int>> Server::BindWorkerSockets(const listener::ListenerConfig& config,
                                                           const network::Address& address) {
  std::vector<int> fds;
  if (!config.bind_to_port) return fds;
  if (config.udp) {
    // One socket, served by one worker (see AddToWorkers).
    auto fd = network::BindUdpSocket(address, config.freebind);
    if (!fd.ok()) {
      return absl::UnavailableError(
          absl::StrCat("listener '", config.name, "': ", fd.status().message()));
    }
    fds.push_back(*fd);
    return fds;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto fd = network::BindListenSocket(address, static_cast<int>(config.backlog),
                                        /*reuse_port=*/true, config.freebind);
    if (!fd.ok()) {
      for (int open : fds) close(open);
      return absl::UnavailableError(
          absl::StrCat("listener '", config.name, "': ", fd.status().message()));
    }
    fds.push_back(*fd);
  }
  return fds;
}

absl::Status Server::UpdateClusters(
    std::vector<std::shared_ptr<const upstream::ClusterConfig>> updated,
    const std::vector<std::string>& removed) {
  // Secrets first, for every cluster: a refused one leaves the whole update unapplied.
  for (const auto& cluster : updated) {
    RETURN_IF_ERROR(
        SubscribeSecrets(TlsContextsOf(*cluster), absl::StrCat("cluster '", cluster->name, "'")));
  }
  for (auto& cluster : updated) {
    const std::string name = cluster->name;
    for (auto& w : workers_) w->AddCluster(cluster);
    RETURN_IF_ERROR(clusters_->AddCluster(cluster));
    dynamic_clusters_.insert(name);
    // An EDS cluster starts from the endpoints already known for its service.
    if (cluster->type == upstream::DiscoveryType::kEds) {
      auto known = endpoints_.find(cluster->eds_service_name);
      if (known != endpoints_.end()) RETURN_IF_ERROR(clusters_->SetEndpoints(name, known->second));
    }
    WEFT_LOG(info, "cds: cluster '{}' added or updated", name);
  }
  for (const std::string& name : removed) {
    for (auto& w : workers_) w->RemoveCluster(name);
    clusters_->RemoveCluster(name);
    dynamic_clusters_.erase(name);
    WEFT_LOG(info, "cds: cluster '{}' removed", name);
  }
  return absl::OkStatus();
}

absl::Status Server::UpdateEndpoints(
    std::map<std::string, std::vector<upstream::LocalityEndpoints>> by_service) {
  for (auto& [service, localities] : by_service) {
    endpoints_[service] = localities;
    for (const auto& [name, config] : clusters_->clusters()) {
      if (config->type != upstream::DiscoveryType::kEds || config->eds_service_name != service) {
        continue;
      }
      RETURN_IF_ERROR(clusters_->SetEndpoints(name, localities));
      WEFT_LOG(info, "eds: cluster '{}' has new endpoints", name);
    }
  }
  return absl::OkStatus();
}

bool Server::RoutesKnown(const listener::ListenerConfig& config) const {
  bool complete = true;
  ForEachHcm(config, [&](const listener::HttpConnectionManagerConfig& hcm) {
    complete = complete &&
               (hcm.rds_route_config_name.empty() || routes_.count(hcm.rds_route_config_name) > 0);
  });
  return complete;
}

std::shared_ptr<router::RdsRouteTable> Server::RdsTable(const std::string& name) {
  auto& table = rds_tables_[name];
  if (table == nullptr) {
    // No worker can see the new object before a listener runtime naming it is posted, so its
    // slots are filled here; from then on only the workers write them.
    std::shared_ptr<const router::RouteTable> current;
    if (auto known = routes_.find(name); known != routes_.end()) {
      current = known->second;
    } else {
      current = *router::RouteTable::Create(std::make_shared<const router::RouteConfiguration>());
    }
    table = std::make_shared<router::RdsRouteTable>(name, workers_.size(), std::move(current));
  }
  return table;
}

absl::Status Server::InstallListener(const listener::ListenerConfig& given,
                                     std::vector<int> prebound) {
  auto config = std::make_shared<const listener::ListenerConfig>(given);
  auto runtime = ListenerRuntime::Build(config, RdsLookup());
  if (!runtime.ok()) {
    CloseAll(prebound);
    return absl::InvalidArgumentError(
        absl::StrCat("listener '", given.name, "': ", runtime.status().message()));
  }
  auto current = std::find_if(listeners_.begin(), listeners_.end(),
                              [&](const auto& l) { return l->config->name == given.name; });
  if (current != listeners_.end() &&
      (*current)->address.ToString() == (*runtime)->address.ToString() &&
      (*current)->config->bind_to_port == given.bind_to_port &&
      (*current)->config->udp == given.udp) {
    // Same socket: swap the filter chains under it; nothing to rebind, no connection refused.
    CloseAll(prebound);
    for (auto& w : workers_) w->UpdateListener(given.name, *runtime);
    main_stats_->counter("listener_manager.listener_create_success").Inc(workers_.size());
    *current = *runtime;
    main_stats_->counter("listener_manager.listener_modified").Inc();
    WEFT_LOG(info, "lds: listener '{}' updated", given.name);
    return absl::OkStatus();
  }
  std::vector<int> fds = std::move(prebound);
  if (fds.empty()) {
    ASSIGN_OR_RETURN(fds, BindWorkerSockets(*config, (*runtime)->address));
  }
  const bool moved = current != listeners_.end();
  if (moved) RemoveListener(given.name);  // moved to another address
  AddToWorkers(*runtime, fds);
  listeners_.push_back(*runtime);
  main_stats_
      ->counter(moved ? "listener_manager.listener_modified" : "listener_manager.listener_added")
      .Inc();
  WEFT_LOG(info, "lds: listener '{}' on {}", given.name, (*runtime)->address.ToString());
  return absl::OkStatus();
}

void Server::AddToWorkers(const std::shared_ptr<const ListenerRuntime>& runtime,
                          const std::vector<int>& fds) {
  if (runtime->config->udp) {
    // DNS is a few small datagrams per outbound connection: one socket on worker 0's loop is
    // plenty, keeps a lookup's upstream answer on the loop that sent it, and worker 0 always
    // exists. The nameservers are read now, when the listener starts.
    workers_[0]->AddUdpListener(runtime, fds.at(0), dns::ReadNameservers(dns::ResolvConfPath()));
    main_stats_->counter("listener_manager.listener_create_success").Inc();
    return;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->AddListener(runtime, i < fds.size() ? fds[i] : -1);
  }
  // Envoy counts one per worker the listener was added to.
  main_stats_->counter("listener_manager.listener_create_success").Inc(workers_.size());
}

void Server::RemoveListener(const std::string& name) {
  for (auto& w : workers_) w->RemoveListener(name);
  listeners_.erase(std::remove_if(listeners_.begin(), listeners_.end(),
                                  [&](const auto& l) { return l->config->name == name; }),
                   listeners_.end());
}

absl::Status Server::UpdateListeners(std::vector<listener::ListenerConfig> updated,
                                     const std::vector<std::string>& removed,
                                     std::set<std::string>* failed) {
  for (const std::string& name : removed) {
    warming_listeners_.erase(name);
    RemoveListener(name);
    main_stats_->counter("listener_manager.listener_removed").Inc();
    WEFT_LOG(info, "lds: listener '{}' removed: no longer accepting", name);
  }
  absl::Status first_error;
  for (auto& config : updated) {
    if (absl::Status st =
            SubscribeSecrets(TlsContextsOf(config), absl::StrCat("listener '", config.name, "'"));
        !st.ok()) {
      if (failed) failed->insert(config.name);
      if (first_error.ok()) first_error = st;
      continue;
    }
    if (!RoutesKnown(config) || !SecretsReady(config)) {
      // Warming (listener_warming.cc): the old version (if any) serves until the routes and
      // secrets arrive. Its sockets are bound now, so a port taken by someone else fails this
      // LDS update.
      std::vector<int> fds = TakeWarmingSockets(config);
      if (fds.empty() && NeedsNewSockets(config)) {
        auto address = network::MakeAddress(config.address, config.port);
        absl::StatusOr<std::vector<int>> bound =
            address.ok() ? BindWorkerSockets(config, *address)
                         : absl::StatusOr<std::vector<int>>(absl::InvalidArgumentError(absl::StrCat(
                               "listener '", config.name, "': ", address.status().message())));
        if (!bound.ok()) {
          warming_listeners_.erase(config.name);
          if (failed) failed->insert(config.name);
          if (first_error.ok()) first_error = bound.status();
          continue;
        }
        fds = std::move(*bound);
      }
      StartWarming(std::move(config), std::move(fds), /*waits_for_routes=*/true);
      continue;
    }
    absl::Status st = InstallListener(config, TakeWarmingSockets(config));
    if (st.ok()) continue;
    if (failed) failed->insert(config.name);
    if (first_error.ok()) first_error = st;
  }
  UpdateListenerState();
  return first_error;
}

absl::Status Server::UpdateRoutes(
    std::map<std::string, std::shared_ptr<const router::RouteConfiguration>> routes) {
  // Every configuration compiles, or none applies.
  std::map<std::string, std::shared_ptr<const router::RouteTable>> tables;
  for (auto& [name, rc] : routes) {
    auto table = router::RouteTable::Create(std::move(rc));
    if (!table.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("route_configuration '", name, "': ", table.status().message()));
    }
    tables[name] = std::move(*table);
  }
  for (const auto& entry : tables) {
    // Plain references, not structured bindings: the lambdas below capture them.
    const std::string& name = entry.first;
    const std::shared_ptr<const router::RouteTable>& table = entry.second;
    routes_[name] = table;
    // Each worker swaps its own slot; its streams from then on route by the new table.
    if (auto known = rds_tables_.find(name); known != rds_tables_.end()) {
      for (size_t i = 0; i < workers_.size(); ++i) {
        workers_[i]->dispatcher().Post([rds = known->second, i, table] { rds->Set(i, table); });
      }
    }
    // Envoy's per-HCM reload counter: http.<stat_prefix>.rds.<route_config_name>.config_reload.
    std::set<std::string> prefixes;
    for (const auto& l : listeners_) {
      ForEachHcm(*l->config, [&](const listener::HttpConnectionManagerConfig& hcm) {
        if (hcm.rds_route_config_name == name) prefixes.insert(hcm.stat_prefix);
      });
    }
    for (const auto& prefix : prefixes) {
      main_stats_->counter(absl::StrCat("http.", prefix, ".rds.", name, ".config_reload")).Inc();
    }
    WEFT_LOG(info, "rds: route configuration '{}' updated", name);
  }
  // Warming listeners whose routes (and secrets) are now all there open.
  return ActivateWarmListeners();
}

std::vector<std::string> Server::EdsServiceNames() const {
  std::set<std::string> names;
  for (const auto& [name, config] : clusters_->clusters()) {
    if (config->type == upstream::DiscoveryType::kEds) names.insert(config->eds_service_name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> Server::RdsRouteNames() const {
  std::set<std::string> names;
  auto collect = [&](const listener::ListenerConfig& config) {
    ForEachHcm(config, [&](const listener::HttpConnectionManagerConfig& hcm) {
      if (!hcm.rds_route_config_name.empty()) names.insert(hcm.rds_route_config_name);
    });
  };
  for (const auto& l : listeners_) collect(*l->config);
  for (const auto& [name, warming] : warming_listeners_) collect(warming.config);
  return {names.begin(), names.end()};
}

}  // namespace weft::proxy
