#include "proxy/server/worker.h"

#include <unistd.h>

#include <optional>

#include "base/logging.h"
#include "proxy/filters/network_rbac.h"
#include "proxy/server/listener_handoff.h"
#include "proxy/server/protocol_inspector.h"
#include "proxy/tls/client_hello.h"
#include "proxy/tls/tls_socket.h"

namespace weft::proxy {

namespace {
constexpr std::chrono::milliseconds kAccessLogFlushInterval{1000};
}

Worker::Worker(int index, stats::Registry& registry, stats::Registry& host_registry,
               std::string hostname)
    : index_(index),
      stats_(registry.NewStore()),
      host_stats_(host_registry.NewStore()),
      random_(FastRandom::FromClockAndThread()),
      clusters_(dispatcher_, stats_, host_stats_, random_),
      context_{dispatcher_, stats_, random_, clusters_, std::move(hostname)} {
  context_.index = static_cast<size_t>(index);
  random_ = FastRandom(random_.Next() + static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
}

Worker::~Worker() { Stop(); }

void Worker::AddCluster(std::shared_ptr<const upstream::ClusterConfig> config) {
  dispatcher_.Post(
      [this, config = std::move(config)]() mutable { clusters_.AddCluster(std::move(config)); });
}

void Worker::UpdateHosts(const std::string& cluster, std::shared_ptr<const upstream::HostSet> hosts,
                         std::shared_ptr<const upstream::LbSharedState> lb_state) {
  dispatcher_.Post(
      [this, cluster, hosts = std::move(hosts), lb_state = std::move(lb_state)]() mutable {
        clusters_.UpdateHosts(cluster, std::move(hosts), std::move(lb_state));
      });
}

void Worker::AddListener(std::shared_ptr<const ListenerRuntime> runtime, int listen_fd) {
  dispatcher_.Post([this, runtime = std::move(runtime), listen_fd]() mutable {
    listeners_.push_back(ActiveListener{});
    ActiveListener& l = listeners_.back();
    l.cx_total = &stats_.counter(runtime->stat_prefix + "downstream_cx_total");
    l.cx_active = &stats_.gauge(runtime->stat_prefix + "downstream_cx_active");
    l.no_filter_chain_match = &stats_.counter(runtime->stat_prefix + "no_filter_chain_match");
    l.runtime = std::move(runtime);
    if (listen_fd < 0) return;  // bind_to_port: false
    l.acceptor = std::make_unique<network::Acceptor>(dispatcher_, listen_fd,
                                                     [this, &l](int fd) { OnAccept(l, fd); });
  });
}

void Worker::AddUdpListener(std::shared_ptr<const ListenerRuntime> runtime, int udp_fd,
                            std::vector<network::Address> resolvers) {
  dispatcher_.Post(
      [this, runtime = std::move(runtime), udp_fd, resolvers = std::move(resolvers)]() mutable {
        const listener::ListenerConfig& config = *runtime->config;
        UdpListener& l = udp_listeners_[config.name];
        l.dns = std::make_unique<dns::DnsServer>(dispatcher_, stats_, udp_fd, *config.dns_filter,
                                                 std::move(resolvers));
        l.runtime = std::move(runtime);
      });
}

void Worker::RemoveCluster(const std::string& name) {
  dispatcher_.Post([this, name] { clusters_.RemoveCluster(name); });
}

void Worker::UpdateListener(const std::string& name,
                            std::shared_ptr<const ListenerRuntime> runtime) {
  dispatcher_.Post([this, name, runtime = std::move(runtime)]() mutable {
    if (auto udp = udp_listeners_.find(name); udp != udp_listeners_.end()) {
      if (runtime->config->dns_filter) udp->second.dns->UpdateConfig(*runtime->config->dns_filter);
      udp->second.runtime = std::move(runtime);
      return;
    }
    for (auto& l : listeners_) {
      if (l.runtime->config->name != name) continue;
      retired_runtimes_.push_back(std::move(l.runtime));
      l.runtime = std::move(runtime);
      // As Envoy drains a listener's connections when its filter chains change: a kept-alive
      // connection must not go on with the old chains (an AuthorizationPolicy deleted, a
      // PeerAuthentication made STRICT). Each serves at most one more request, then ends.
      DrainHttpConnectionsOf(name, /*close_idle=*/false);
      return;
    }
  });
}

void Worker::DrainHttpConnectionsOf(const std::string& listener_name, bool close_idle) {
  // StartDrain may close connections, which edits the maps: collect first.
  std::vector<HttpConnectionManager*> drain;
  for (auto& [h, listener] : http_connection_listener_) {
    if (listener == listener_name) drain.push_back(h);
  }
  for (auto* h : drain) {
    if (close_idle) {
      h->StartDrain();
    } else {
      h->DrainAfterNextResponse();
    }
  }
}

void Worker::RemoveListener(const std::string& name) {
  dispatcher_.Post([this, name] {
    if (udp_listeners_.erase(name) > 0) return;  // closes its socket; lookups in flight drop
    for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
      if (it->runtime->config->name != name) continue;
      if (it->acceptor) it->acceptor->Close();
      // splice keeps the element (and references to it) alive in the retired list.
      retired_listeners_.splice(retired_listeners_.end(), listeners_, it);
      DrainHttpConnectionsOf(name, /*close_idle=*/true);
      return;
    }
  });
}

HcmStats& Worker::HcmStatsFor(const std::string& prefix) {
  auto& stats = hcm_stats_[prefix];
  if (!stats) stats = std::make_unique<HcmStats>(HcmStats::Create(stats_, prefix));
  return *stats;
}

const tls::TlsStats& Worker::TlsStatsFor(const std::string& listener_prefix) {
  auto& stats = tls_stats_[listener_prefix];
  if (!stats)
    stats = std::make_unique<tls::TlsStats>(tls::TlsStats::Create(stats_, listener_prefix));
  return *stats;
}

TcpProxyStats& Worker::TcpStatsFor(const std::string& prefix) {
  auto& stats = tcp_stats_[prefix];
  if (!stats) stats = std::make_unique<TcpProxyStats>(TcpProxyStats::Create(stats_, prefix));
  return *stats;
}

// Holds a new connection until its first bytes say what it is: the listener filters
// envoy.filters.listener.tls_inspector (a ClientHello: transport "tls", SNI, ALPN) and
// http_inspector (a plaintext HTTP/1 request line or the h2c preface). Then hands it to its filter
// chain. The bytes looked at stay in the connection's read buffer: a plaintext chain's filter
// gets them as its first data, a TLS chain's transport socket as its first wire bytes.
class Worker::ProtocolInspection : public network::ConnectionCallbacks {
 public:
  ProtocolInspection(Worker& worker, ActiveListener& listener,
                     std::unique_ptr<network::Connection> connection)
      : worker_(worker), listener_(listener), connection_(std::move(connection)) {
    connection_->SetCallbacks(this);
    const listener::ListenerConfig& config = *listener_.runtime->config;
    if (config.listener_filters_timeout.count() > 0) {
      timer_ = worker_.dispatcher_.CreateTimer([this] { OnTimeout(); });
      timer_->Enable(config.listener_filters_timeout);
    }
  }

  void OnData(network::Buffer& data, bool end_stream) override {
    read_ = &data;
    const ListenerRuntime& rt = *listener_.runtime;
    ListenerRuntime::DetectedFacts facts;
    tls::ClientHelloInfo hello;
    if (rt.inspect_tls) {
      switch (tls::ParseClientHello(data.view(), hello)) {
        case tls::ClientHelloResult::kNeedMoreData:
          if (!end_stream) return;  // leave the bytes in place and wait for more
          break;
        case tls::ClientHelloResult::kTooLarge:
          Counter("tls_inspector.client_hello_too_large").Inc();
          Close();
          return;
        case tls::ClientHelloResult::kTls:
          facts.transport_protocol = "tls";
          facts.server_name = hello.sni;
          for (const auto& p : hello.alpn) facts.application_protocols.emplace_back(p);
          break;
        case tls::ClientHelloResult::kNotTls:
          break;
      }
    }
    const bool tls = !facts.transport_protocol.empty();
    std::string_view protocol;
    if (!tls && rt.inspect_http) {
      if (InspectHttpProtocol(data.view(), protocol) == InspectResult::kNeedMoreData &&
          !end_stream) {
        return;
      }
      if (!protocol.empty()) facts.application_protocols.push_back(protocol);
    }
    // Counted once per connection, when the inspection is over.
    if (rt.inspect_tls) {
      Counter(tls ? "tls_inspector.tls_found" : "tls_inspector.tls_not_found").Inc();
      if (tls) {
        Counter(hello.sni.empty() ? "tls_inspector.sni_not_found" : "tls_inspector.sni_found")
            .Inc();
        Counter(hello.alpn.empty() ? "tls_inspector.alpn_not_found" : "tls_inspector.alpn_found")
            .Inc();
      }
    }
    Hand(facts, &data, end_stream);
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected || !connection_) return;
    worker_.FinishInspection(this);
  }

 private:
  stats::Counter& Counter(const std::string& name) { return worker_.stats_.counter(name); }

  void Close() {
    if (timer_) timer_->Disable();
    connection_->Close(network::Connection::CloseType::kNoFlush);  // OnEvent finishes
  }

  // Envoy's listener_filters_timeout: a client that has not said enough is dropped, or with
  // continue_on_listener_filters_timeout matched as what is known (plaintext, no protocol).
  void OnTimeout() {
    worker_.stats_.counter(listener_.runtime->stat_prefix + "downstream_pre_cx_timeout").Inc();
    if (!listener_.runtime->config->continue_on_listener_filters_timeout) {
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    Hand({}, read_, false);
  }

  // `data`: the bytes read so far (the connection's read buffer), null when none were read.
  void Hand(const ListenerRuntime::DetectedFacts& facts, network::Buffer* data, bool end_stream) {
    if (timer_) timer_->Disable();
    std::unique_ptr<network::Connection> connection = std::move(connection_);
    Worker& worker = worker_;
    ActiveListener& listener = listener_;
    worker.FinishInspection(this);  // deferred delete of *this
    network::Connection* raw = connection.get();
    if (!worker.StartFilterChain(listener, std::move(connection), facts)) return;
    if (raw->transport_socket() != nullptr) {
      // The TLS socket took the ClientHello from the read buffer; a peer that already half-closed
      // will never finish the handshake.
      if (end_stream) raw->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    // The chain's filter now owns the connection: give it what was read so far.
    if (data != nullptr && (!data->empty() || end_stream))
      raw->callbacks()->OnData(*data, end_stream);
  }

  Worker& worker_;
  ActiveListener& listener_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<event::Timer> timer_;
  network::Buffer* read_ = nullptr;  // the connection's read buffer, once bytes arrived
};

// A TLS chain's connection from accept until its handshake is done: then the facts network
// RBAC reads (the peer's verified URI SAN, the SNI) are known and the terminal filter starts, so
// neither tcp_proxy's upstream nor the HTTP connection manager sees a connection that fails its
// handshake or its policy. Envoy's network RBAC decides at the first byte; for a TLS chain the
// completed handshake is the first moment the peer's identity is known.
class Worker::HandshakeGate : public network::ConnectionCallbacks {
 public:
  HandshakeGate(Worker& worker, ActiveListener& listener, const FilterChainRuntime& chain,
                std::unique_ptr<network::Connection> connection)
      : worker_(worker), listener_(listener), chain_(chain), connection_(std::move(connection)) {
    connection_->SetCallbacks(this);
    // Envoy's transport_socket_connect_timeout: without it (its default) a peer that stalls
    // mid-handshake keeps its connection for as long as it likes.
    const std::chrono::milliseconds limit = chain_.config->transport_socket_connect_timeout;
    if (limit.count() > 0) {
      timer_ = worker_.dispatcher_.CreateTimer([this] { OnTimeout(); });
      timer_->Enable(limit);
    }
  }
  void OnTransportSecured() override {
    if (timer_) timer_->Disable();
    std::unique_ptr<network::Connection> connection = std::move(connection_);
    Worker& worker = worker_;
    ActiveListener& listener = listener_;
    const FilterChainRuntime& chain = chain_;
    worker.FinishHandshakeGate(this);  // deferred delete of *this
    // The Connection passes the plaintext that came with the handshake to the callbacks set
    // from here on (the terminal filter's) right after this returns.
    worker.StartTerminalFilter(listener, chain, std::move(connection));
  }
  void OnData(network::Buffer&, bool end_stream) override {
    // No plaintext before the handshake is done; a peer closing mid-handshake ends it here.
    if (end_stream && connection_) connection_->Close(network::Connection::CloseType::kNoFlush);
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected || !connection_) return;
    if (timer_) timer_->Disable();
    worker_.FinishHandshakeGate(this);
  }

 private:
  void OnTimeout() {
    worker_.stats_
        .counter(listener_.runtime->stat_prefix + "downstream_cx_transport_socket_connect_timeout")
        .Inc();
    connection_->Close(network::Connection::CloseType::kNoFlush);  // OnEvent finishes
  }

  Worker& worker_;
  ActiveListener& listener_;
  const FilterChainRuntime& chain_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<event::Timer> timer_;  // transport_socket_connect_timeout; null = no limit
};

void Worker::FinishHandshakeGate(HandshakeGate* gate) {
  for (auto it = handshake_gates_.begin(); it != handshake_gates_.end(); ++it) {
    if (it->get() == gate) {
      dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
      handshake_gates_.erase(it);
      return;
    }
  }
}

void Worker::FinishInspection(ProtocolInspection* inspection) {
  for (auto it = inspections_.begin(); it != inspections_.end(); ++it) {
    if (it->get() == inspection) {
      dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
      inspections_.erase(it);
      return;
    }
  }
}

Worker::ActiveListener* Worker::HandoffTarget(const network::Address& original_dst) {
  return SelectHandoffTarget(
      listeners_, original_dst,
      [](const ActiveListener& l) -> const network::Address& { return l.runtime->address; });
}

void Worker::OnAccept(ActiveListener& accepting, int fd) {
  ActiveListener* listener = &accepting;
  std::optional<network::Address> original_dst;
  if (accepting.runtime->config->restore_original_dst) {
    auto dst = network::OriginalDestination(fd);
    if (dst.ok()) {
      original_dst = *dst;
      // Envoy's use_original_dst: the listener on the original destination (exact, then
      // 0.0.0.0/[::] on its port) takes the connection, with its filter chains, stats and
      // inspection; without one the accepting listener keeps it. No second hand-off.
      if (accepting.runtime->config->use_original_dst) {
        if (ActiveListener* target = HandoffTarget(*dst)) listener = target;
      }
    }
  }
  const ListenerRuntime& rt = *listener->runtime;
  auto connection = std::make_unique<network::Connection>(
      dispatcher_, fd, rt.config->per_connection_buffer_limit_bytes);
  if (original_dst) connection->RestoreLocalAddress(*original_dst);
  if (rt.inspect_http || rt.inspect_tls) {
    inspections_.push_back(
        std::make_unique<ProtocolInspection>(*this, *listener, std::move(connection)));
    return;
  }
  StartFilterChain(*listener, std::move(connection), {});
}

bool Worker::StartFilterChain(ActiveListener& listener,
                              std::unique_ptr<network::Connection> connection,
                              const ListenerRuntime::DetectedFacts& facts) {
  const ListenerRuntime& rt = *listener.runtime;
  const FilterChainRuntime* chain =
      rt.SelectChain(connection->local_address(), connection->remote_address(), facts);
  if (chain == nullptr) {
    listener.no_filter_chain_match->Inc();
    // Close now, free later: we may be inside this connection's own read callback.
    connection->Close(network::Connection::CloseType::kNoFlush);
    dispatcher_.DeferredDelete(event::DeferLater(std::move(connection)));
    return false;
  }
  if (chain->config != nullptr && chain->config->tls &&
      !tls::SecureConnection(*connection, *chain->config->tls, &TlsStatsFor(rt.stat_prefix))) {
    connection->Close(network::Connection::CloseType::kNoFlush);
    dispatcher_.DeferredDelete(event::DeferLater(std::move(connection)));
    return false;
  }
  listener.cx_total->Inc();
  if (connection->transport_socket() != nullptr) {
    handshake_gates_.push_back(
        std::make_unique<HandshakeGate>(*this, listener, *chain, std::move(connection)));
    return true;
  }
  StartTerminalFilter(listener, *chain, std::move(connection));
  return true;
}

bool Worker::StartTerminalFilter(ActiveListener& listener, const FilterChainRuntime& chain_rt,
                                 std::unique_ptr<network::Connection> connection) {
  const ListenerRuntime& rt = *listener.runtime;
  const FilterChainRuntime* chain = &chain_rt;
  // envoy.filters.network.rbac (Envoy decides at the first byte, ONE_TIME_ON_FIRST_BYTE): a
  // plaintext connection at accept, a TLS one once its handshake is done, with the verified
  // peer's URI SAN (principal_name, authenticated) and the SNI (requested_server_name). A denied
  // connection is closed before its terminal filter (or the upstream) ever sees it.
  const network::SecurityInfo* security = connection->security_info();
  const std::string_view sni = security ? std::string_view(security->sni) : std::string_view();
  const std::string_view peer = security && security->peer_certificate
                                    ? std::string_view(security->peer_uri_san)
                                    : std::string_view();
  if (!filters::NetworkRbacAllows(chain->config->network_rbacs, connection->local_address(),
                                  connection->remote_address(), sni, peer, stats_)) {
    connection->Close(network::Connection::CloseType::kNoFlush);
    dispatcher_.DeferredDelete(event::DeferLater(std::move(connection)));
    return false;
  }
  listener.cx_active->Inc();
  ++active_connections_;
  stats::Gauge* cx_active = listener.cx_active;
  if (chain->hcm) {
    HcmStats& stats = HcmStatsFor(chain->hcm->config->stat_prefix);
    auto hcm = std::make_unique<HttpConnectionManager>(
        context_, chain->hcm, stats, std::move(connection),
        [this, cx_active](HttpConnectionManager* h) {
          cx_active->Dec();
          --active_connections_;
          http_connection_listener_.erase(h);
          auto it = http_connections_.find(h);
          if (it != http_connections_.end()) {
            dispatcher_.DeferredDelete(event::DeferLater(std::move(it->second)));
            http_connections_.erase(it);
          }
        });
    HttpConnectionManager* raw = hcm.get();
    http_connections_.emplace(raw, std::move(hcm));
    http_connection_listener_.emplace(raw, rt.config->name);
    if (context_.draining) raw->StartDrain();  // may close it at once: it is registered first
    return true;
  }
  auto session = std::make_unique<TcpProxySession>(
      context_, chain->tcp, TcpStatsFor(chain->tcp->config->stat_prefix), std::move(connection),
      [this, cx_active](TcpProxySession* s) {
        cx_active->Dec();
        --active_connections_;
        auto it = tcp_sessions_.find(s);
        if (it != tcp_sessions_.end()) {
          dispatcher_.DeferredDelete(event::DeferLater(std::move(it->second)));
          tcp_sessions_.erase(it);
        }
      });
  TcpProxySession* raw = session.get();
  tcp_sessions_.emplace(raw, std::move(session));
  raw->Start();
  return true;
}

void Worker::StartDrain() {
  dispatcher_.Post([this] {
    context_.draining = true;
    for (auto& l : listeners_) {
      if (l.acceptor) l.acceptor->Close();
    }
    // UDP (DNS) listeners keep answering: applications finishing their requests may still
    // resolve names, and there is no connection to drain.
    // StartDrain may close connections, which removes them from the list: iterate a copy.
    std::vector<HttpConnectionManager*> open;
    for (auto& [raw, h] : http_connections_) open.push_back(raw);
    for (auto* h : open) h->StartDrain();
  });
}

void Worker::Start() {
  thread_ = std::thread([this] {
    flush_timer_ = dispatcher_.CreateTimer([this] {
      context_.access_logs.Flush();
      flush_timer_->Enable(kAccessLogFlushInterval);
    });
    flush_timer_->Enable(kAccessLogFlushInterval);
    dispatcher_.Run();
    // Close what is still open, on this thread, then flush the logs they write.
    inspections_.clear();
    handshake_gates_.clear();
    http_connections_.clear();
    http_connection_listener_.clear();
    tcp_sessions_.clear();
    listeners_.clear();
    udp_listeners_.clear();
    retired_listeners_.clear();
    retired_runtimes_.clear();
    flush_timer_.reset();
    context_.access_logs.Flush();
    context_.access_logs.Clear();
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  dispatcher_.Exit();
  thread_.join();
}

}  // namespace weft::proxy
