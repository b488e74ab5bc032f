// The weft-proxy process: owns the main dispatcher, the workers, the clusters' discovery, the
// listeners' sockets and the admin endpoint, and runs startup, drain and shutdown.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "event/dispatcher.h"
#include "proxy/admin/admin_server.h"
#include "proxy/cluster_manager/cluster_manager.h"
#include "proxy/config/bootstrap_config.h"
#include "proxy/server/listener_runtime.h"
#include "proxy/server/worker.h"
#include "proxy/stats/stats.h"

namespace weft::proxy {

struct ServerOptions {
  int concurrency = 1;
  std::chrono::seconds drain_time{600};  // Envoy's --drain-time-s default
  std::string admin_address_path;        // write the admin's "ip:port" here once listening
  std::string hostname;
};

class Server {
 public:
  Server(ServerOptions options, config::BootstrapConfig bootstrap);
  ~Server();

  // Binds every listener and the admin port, starts clusters and workers. An error (a port in
  // use, say) leaves nothing running.
  absl::Status Start();
  // Runs the main loop until shutdown (SIGTERM/SIGINT drain, /quitquitquit).
  void Run();

  // Stops accepting, lets in-flight requests finish (up to the drain time), then exits.
  void Drain(bool then_exit);
  void Shutdown();

 private:
  void InstallAdminHandlers();
  AdminResponse ClustersPage(bool json);
  void OnSignal();
  void CheckDrained();
  // Reopens every access log file (SIGUSR1, POST /reopen_logs); returns how many.
  size_t ReopenAccessLogs();

  ServerOptions options_;
  config::BootstrapConfig bootstrap_;
  event::Dispatcher dispatcher_;
  stats::Registry stats_;
  stats::Registry host_stats_;  // per-host numbers for /clusters
  stats::Store* main_stats_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<cluster::ClusterManager> clusters_;
  std::vector<std::shared_ptr<const ListenerRuntime>> listeners_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<event::FileEvent> signal_event_;
  int signal_fd_ = -1;
  std::unique_ptr<event::Timer> drain_timer_;
  std::unique_ptr<event::Timer> drain_poll_timer_;
  bool draining_ = false;
  bool exit_after_drain_ = false;
  event::MonotonicTime start_time_;
};

}  // namespace weft::proxy
