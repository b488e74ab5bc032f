// The weft-proxy process: owns the main dispatcher, the workers, the clusters' discovery, the
// listeners' sockets and the admin endpoint, and runs startup, drain and shutdown.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "event/dispatcher.h"
#include "proxy/admin/admin_server.h"
#include "proxy/cluster_manager/cluster_manager.h"
#include "proxy/config/bootstrap_config.h"
#include "proxy/server/listener_runtime.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/routing_secret_provider.h"
#include "proxy/tls/tls_context.h"

namespace weft::proxy {

struct ServerOptions {
  int concurrency = 1;
  std::chrono::seconds drain_time{600};  // Envoy's --drain-time-s default
  std::string admin_address_path;        // write the admin's "ip:port" here once listening
  std::string hostname;
};

// The TLS contexts of a listener's filter chains / a cluster's transport sockets (secrets.cc).
std::vector<std::shared_ptr<tls::TlsContext>> TlsContextsOf(const listener::ListenerConfig& l);
std::vector<std::shared_ptr<tls::TlsContext>> TlsContextsOf(const upstream::ClusterConfig& c);

class Server {
 public:
  Server(ServerOptions options, config::BootstrapConfig bootstrap);
  ~Server();

  // Before Start(): the identity agent, which serves SDS `default` and `ROOTCA` (it must
  // outlive the Server's use of it). Without one, a config naming those is refused. Other SDS
  // names come over ADS (secrets.cc), and are refused without an ADS server.
  void SetSecretProvider(tls::SecretProvider* provider) { secrets_.SetAgent(provider); }

  // Binds every listener and the admin port, starts clusters and workers. An error (a port in
  // use, say) leaves nothing running.
  absl::Status Start();
  // Runs the main loop until shutdown (SIGTERM/SIGINT drain, /quitquitquit).
  void Run();

  // Stops accepting, lets in-flight requests finish (up to the drain time), then exits.
  void Drain(bool then_exit);
  void Shutdown();

  // xDS (main thread; the xDS client posts here). Each applies one update and returns an error
  // naming the resource when it cannot, in which case what was serving keeps serving.
  // CDS: clusters added or changed, and removed by name.
  absl::Status UpdateClusters(std::vector<std::shared_ptr<const upstream::ClusterConfig>> updated,
                              const std::vector<std::string>& removed);
  // EDS: endpoints per eds_service_name.
  absl::Status UpdateEndpoints(
      std::map<std::string, std::vector<upstream::LocalityEndpoints>> by_service);
  // LDS: listeners added or changed (new ones open; a changed one replaces the old for new
  // connections), and removed by name (they stop accepting; open connections finish).
  // `failed` (optional) receives the names of the listeners that could not be installed.
  absl::Status UpdateListeners(std::vector<listener::ListenerConfig> updated,
                               const std::vector<std::string>& removed,
                               std::set<std::string>* failed = nullptr);
  // RDS: route configurations by name. Every HCM naming one routes its next stream by the new
  // table, on connections already open too; listeners are not touched. Warming listeners whose
  // routes are now all known open. A configuration that does not compile changes nothing.
  absl::Status UpdateRoutes(
      std::map<std::string, std::shared_ptr<const router::RouteConfiguration>> routes);
  // What the xDS client must subscribe to: eds_service_names of EDS clusters, and the
  // route_config_names of listeners' rds.
  std::vector<std::string> EdsServiceNames() const;
  std::vector<std::string> RdsRouteNames() const;
  // SDS over ADS: the secret names TLS contexts wait for (not the agent's), and where the xDS
  // client delivers them (main thread).
  std::vector<std::string> SdsSecretNames() const { return secrets_.AdsNames(); }
  tls::RoutingSecretProvider& secrets() { return secrets_; }
  // The xDS client's view for /config_dump (JSON object), set by the client.
  void SetDynamicConfigDump(std::string json) { dynamic_config_dump_ = std::move(json); }
  event::Dispatcher& dispatcher() { return dispatcher_; }
  stats::Store& main_stats() { return *main_stats_; }
  // After Start(): the admin endpoint, for parts main() adds (the identity agent's /certs);
  // null when the bootstrap has no admin.
  AdminServer* admin() { return admin_.get(); }

 private:
  void InstallAdminHandlers();
  // Main thread, before a config reaches the workers: subscribes `contexts` that name SDS
  // secrets to the provider; refuses them all (naming `owner` and the field) when none serves.
  absl::Status SubscribeSecrets(const std::vector<std::shared_ptr<tls::TlsContext>>& contexts,
                                std::string_view owner);
  AdminResponse ClustersPage(bool json);
  void OnSignal();
  void CheckDrained();
  // Reopens every access log file (SIGUSR1, POST /reopen_logs); returns how many.
  size_t ReopenAccessLogs();
  // Opens (or, same name and address, swaps in) a listener whose routes are all known.
  // `prebound`: the worker sockets bound for it while it warmed (empty: bind now if needed).
  absl::Status InstallListener(const listener::ListenerConfig& config,
                               std::vector<int> prebound = {});
  // Whether installing `config` needs new sockets (a new listener, or one moved to another
  // address), rather than swapping the chains of a listener already bound there.
  bool NeedsNewSockets(const listener::ListenerConfig& config) const;
  void RemoveListener(const std::string& name);
  // Gives every worker the listener: its own socket of `fds` (one per worker), or, for
  // bind_to_port: false (`fds` empty), none: it then only takes hand-offs.
  void AddToWorkers(const std::shared_ptr<const ListenerRuntime>& runtime,
                    const std::vector<int>& fds);
  // Whether every rds chain of the listener names a route configuration already received.
  bool RoutesKnown(const listener::ListenerConfig& config) const;
  // Whether every TLS context of the listener can handshake (its SDS secrets arrived).
  static bool SecretsReady(const listener::ListenerConfig& config);
  // The swappable table of a route configuration (created on first use; it routes nothing
  // until RDS delivers the configuration, for static listeners that name one).
  std::shared_ptr<router::RdsRouteTable> RdsTable(const std::string& route_config_name);
  ListenerRuntime::RdsLookup RdsLookup() {
    return [this](const std::string& name) { return RdsTable(name); };
  }
  // One SO_REUSEPORT socket per worker for the listener (none when it does not bind).
  absl::StatusOr<std::vector<int>> BindWorkerSockets(const listener::ListenerConfig& config,
                                                     const network::Address& address);

  ServerOptions options_;
  config::BootstrapConfig bootstrap_;
  tls::RoutingSecretProvider secrets_;
  event::Dispatcher dispatcher_;
  stats::Registry stats_;
  stats::Registry host_stats_;  // per-host numbers for /clusters
  stats::Store* main_stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<cluster::ClusterManager> clusters_;
  std::vector<std::shared_ptr<const ListenerRuntime>> listeners_;
  // xDS state.
  // A warming listener (Envoy's "listener warming"): not given to the workers until its init
  // targets are ready — every SDS secret of its TLS contexts has arrived (or their
  // initial_fetch_timeout passed: it then serves without them, as Envoy does) and, for LDS ones,
  // every rds route configuration it names is known. Meanwhile the old version of the same name,
  // if any, keeps serving. Its sockets are bound when it arrives, as Envoy does, so a busy port is
  // the LDS update's error (NACK), not a later one; a client connecting meanwhile waits in the
  // backlog and is served when the listener becomes active.
  struct WarmingListener {
    listener::ListenerConfig config;
    std::vector<int> fds;  // closed by ~WarmingListener unless handed to InstallListener
    // False for bootstrap listeners: they route by an empty table until RDS delivers (as before).
    bool waits_for_routes = true;
    std::unique_ptr<event::Timer> secrets_timeout;  // initial_fetch_timeout; null: none
    bool secrets_timed_out = false;
    WarmingListener() = default;
    WarmingListener(listener::ListenerConfig c, std::vector<int> f)
        : config(std::move(c)), fds(std::move(f)) {}
    WarmingListener(WarmingListener&& other) noexcept
        : config(std::move(other.config)),
          fds(std::exchange(other.fds, {})),
          waits_for_routes(other.waits_for_routes),
          secrets_timeout(std::move(other.secrets_timeout)),
          secrets_timed_out(other.secrets_timed_out) {}
    WarmingListener& operator=(WarmingListener&& other) noexcept;
    WarmingListener(const WarmingListener&) = delete;
    WarmingListener& operator=(const WarmingListener&) = delete;
    ~WarmingListener();
  };
  // Starts warming `config` (replacing a warming version of the same name) with its sockets
  // `fds`, and arms its initial_fetch_timeout.
  void StartWarming(listener::ListenerConfig config, std::vector<int> fds, bool waits_for_routes);
  // Drops the warming version of `config`'s listener, if any, and returns its sockets when they
  // are bound where `config` listens (clients held in their backlog are then kept), else none.
  std::vector<int> TakeWarmingSockets(const listener::ListenerConfig& config);
  // What a warming listener still waits for ("secrets", "routes"); empty: it is warm.
  std::vector<std::string> WarmingTargets(const WarmingListener& warming) const;
  // Installs every warming listener that is now warm; the first install error, if any.
  absl::Status ActivateWarmListeners();
  // listener_manager.total_listeners_warming / total_listeners_active, and the server's state:
  // INITIALIZING until the listeners warming since startup are all active (or dropped).
  void UpdateListenerState();
  std::map<std::string, WarmingListener> warming_listeners_;
  std::map<std::string, std::shared_ptr<const router::RouteTable>> routes_;  // received by RDS
  std::map<std::string, std::shared_ptr<router::RdsRouteTable>> rds_tables_;
  std::map<std::string, std::vector<upstream::LocalityEndpoints>> endpoints_;  // by service
  std::set<std::string> dynamic_clusters_;
  std::string dynamic_config_dump_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<event::FileEvent> signal_event_;
  int signal_fd_ = -1;
  std::unique_ptr<event::Timer> drain_timer_;
  std::unique_ptr<event::Timer> drain_poll_timer_;
  bool draining_ = false;
  // Envoy's server.state INITIALIZING: bootstrap listeners (and any arriving meanwhile) warm.
  bool initializing_ = true;
  bool exit_after_drain_ = false;
  event::MonotonicTime start_time_;
};

}  // namespace weft::proxy
