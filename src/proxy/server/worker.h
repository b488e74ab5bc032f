// A worker thread: one event loop that owns its accepted connections, its load balancers and
// connection pools, and its stats store. The main thread talks to it only through Post().
#pragma once

#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/random.h"
#include "event/dispatcher.h"
#include "network/listen_socket.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/dns/dns_server.h"
#include "proxy/http/connection_manager.h"
#include "proxy/http/worker_context.h"
#include "proxy/server/listener_runtime.h"
#include "proxy/stats/stats.h"
#include "proxy/tcp/tcp_proxy.h"
#include "proxy/tls/tls_context.h"

namespace weft::proxy {

class Worker {
 public:
  // `host_registry` collects the per-host numbers of /clusters, apart from /stats.
  Worker(int index, stats::Registry& registry, stats::Registry& host_registry,
         std::string hostname);
  ~Worker();

  // Each of these may be called from any thread before or after Start(); they post to the loop.
  void AddCluster(std::shared_ptr<const upstream::ClusterConfig> config);
  void UpdateHosts(const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts,
                   std::shared_ptr<const upstream::LbSharedState> lb_state);
  void RemoveCluster(const std::string& name);
  // `listen_fd` < 0: the listener has no socket (bind_to_port: false) and only receives
  // connections handed off by a use_original_dst listener.
  void AddListener(std::shared_ptr<const ListenerRuntime> listener, int listen_fd);
  // A UDP listener (the DNS filter) served by this worker's loop on `udp_fd` (owned from now);
  // `resolvers`: where it forwards names it does not own. UpdateListener swaps its table,
  // RemoveListener closes it.
  void AddUdpListener(std::shared_ptr<const ListenerRuntime> listener, int udp_fd,
                      std::vector<network::Address> resolvers);
  // LDS/RDS update of a listener on the same address: new connections get `listener`'s filter
  // chains; open ones keep the config they started with.
  void UpdateListener(const std::string& name, std::shared_ptr<const ListenerRuntime> listener);
  // LDS removal: stops accepting (the socket closes); its HTTP connections finish their current
  // request and close (drain), TCP sessions carry on until they end.
  void RemoveListener(const std::string& name);
  // Before Start(): where this worker's outlier-detection thresholds go (thread-safe callable).
  void SetOutlierReporter(cluster::OutlierReporter reporter) {
    clusters_.SetOutlierReporter(std::move(reporter));
  }
  // Stops accepting and asks HTTP connections to finish their current request and close.
  void StartDrain();

  void Start();
  // Ends the loop (connections still open are closed) and joins the thread.
  void Stop();

  event::Dispatcher& dispatcher() { return dispatcher_; }
  size_t active_connections() const { return active_connections_.load(); }

 private:
  struct ActiveListener {
    std::shared_ptr<const ListenerRuntime> runtime;
    std::unique_ptr<network::Acceptor> acceptor;  // null for bind_to_port: false
    stats::Counter* cx_total;
    stats::Gauge* cx_active;
    stats::Counter* no_filter_chain_match;
  };
  class ProtocolInspection;
  class HandshakeGate;
  void OnAccept(ActiveListener& listener, int fd);
  // The listener a use_original_dst connection belongs to (see listener_handoff.h).
  ActiveListener* HandoffTarget(const network::Address& original_dst);
  // Hands a connection to the filter chain that matches it; false when none does.
  // A TLS chain's connection waits in a HandshakeGate for its handshake first.
  bool StartFilterChain(ActiveListener& listener, std::unique_ptr<network::Connection> connection,
                        const ListenerRuntime::DetectedFacts& facts);
  // Network RBAC, then the chain's HTTP connection manager or tcp_proxy; false when denied.
  bool StartTerminalFilter(ActiveListener& listener, const FilterChainRuntime& chain,
                           std::unique_ptr<network::Connection> connection);
  void FinishInspection(ProtocolInspection* inspection);
  void FinishHandshakeGate(HandshakeGate* gate);
  HcmStats& HcmStatsFor(const std::string& prefix);
  // StartDrain on each HTTP connection accepted by `listener_name` (removed or updated).
  // `close_idle`: StartDrain (idle HTTP/1 connections close now) rather than
  // DrainAfterNextResponse.
  void DrainHttpConnectionsOf(const std::string& listener_name, bool close_idle);
  const tls::TlsStats& TlsStatsFor(const std::string& listener_prefix);
  TcpProxyStats& TcpStatsFor(const std::string& prefix);

  int index_;
  event::Dispatcher dispatcher_;
  stats::Store& stats_;
  stats::Store& host_stats_;
  FastRandom random_;
  cluster::ThreadLocalClusterManager clusters_;
  WorkerContext context_;
  std::thread thread_;
  std::list<ActiveListener> listeners_;
  // UDP listeners by name, with the runtime whose config they serve.
  struct UdpListener {
    std::shared_ptr<const ListenerRuntime> runtime;
    std::unique_ptr<dns::DnsServer> dns;
  };
  std::map<std::string, UdpListener> udp_listeners_;
  // Listeners removed or replaced: their runtimes own the configs open connections point into
  // (and protocol inspections refer to the entries), so they stay until the worker stops.
  std::list<ActiveListener> retired_listeners_;
  std::vector<std::shared_ptr<const ListenerRuntime>> retired_runtimes_;
  std::map<std::string, std::unique_ptr<HcmStats>> hcm_stats_;
  std::map<std::string, std::unique_ptr<TcpProxyStats>> tcp_stats_;
  std::map<std::string, std::unique_ptr<tls::TlsStats>> tls_stats_;  // by listener stat prefix
  // Keyed by address: a closing connection finds its own entry in O(1).
  std::unordered_map<HttpConnectionManager*, std::unique_ptr<HttpConnectionManager>>
      http_connections_;
  std::unordered_map<TcpProxySession*, std::unique_ptr<TcpProxySession>> tcp_sessions_;
  // The listener (by name) each HTTP connection came through, to drain a removed listener's.
  std::unordered_map<HttpConnectionManager*, std::string> http_connection_listener_;
  std::list<std::unique_ptr<ProtocolInspection>> inspections_;
  std::list<std::unique_ptr<HandshakeGate>> handshake_gates_;
  std::unique_ptr<event::Timer> flush_timer_;
  std::atomic<size_t> active_connections_{0};
};

}  // namespace weft::proxy
