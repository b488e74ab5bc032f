#include "proxy/cluster_manager/conn_pool.h"

#include "base/logging.h"
#include "proxy/codec/codec_factory.h"
#include "proxy/tls/tls_socket.h"

namespace weft::cluster {

// One upstream connection and its codec.
class HttpConnPool::ActiveClient : public network::ConnectionCallbacks,
                                   public http::ClientConnectionCallbacks {
 public:
  ActiveClient(HttpConnPool& pool, std::unique_ptr<network::Connection> connection)
      : pool_(pool), connection_(std::move(connection)) {
    connection_->SetCallbacks(this);
    if (pool_.protocol_ == http::Protocol::kHttp2) {
      codec_ = http::CreateHttp2ClientCodec(*connection_, *this, pool_.cluster_.http2);
    } else {
      codec_ = http::CreateHttp1ClientCodec(*connection_, *this);
    }
    connect_timer_ = pool_.dispatcher_.CreateTimer([this] {
      timed_out_ = true;
      connection_->Close(network::Connection::CloseType::kNoFlush);
    });
    connect_timer_->Enable(pool_.cluster_.connect_timeout);
    connect_start_ = pool_.dispatcher_.Now();
    idle_timer_ = pool_.dispatcher_.CreateTimer([this] {
      pool_.stats_.upstream_cx_idle_timeout.Inc();
      connection_->Close(network::Connection::CloseType::kNoFlush);
    });
  }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override {
    pool_.stats_.upstream_cx_rx_bytes_total.Inc(data.length());
    absl::Status status = codec_->Dispatch(data);
    if (!status.ok()) {
      pool_.stats_.upstream_cx_protocol_error.Inc();
      WEFT_LOG(debug, "upstream protocol error from {}: {}", pool_.host_->address_string,
               status.message());
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    if (end_stream) {
      // The upstream closed. A close-delimited response ends here; anything else in flight
      // is cut short (the close resets it: 503 UC), and an idle connection leaves the pool
      // now rather than failing the next request that picks it.
      codec_->OnEof();
      connection_->Close(network::Connection::CloseType::kNoFlush);
    }
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) {
      pool_.stats_.upstream_cx_connect_ms.Record(
          std::chrono::duration<double, std::milli>(pool_.dispatcher_.Now() - connect_start_)
              .count());
      pool_.ReportResult({health::HostResult::Kind::kConnectSuccess, 0});
      // HTTP/2 waits for the peer's SETTINGS (sent at once by a server): streams sent before
      // its limit is known could be refused. The connect timeout covers that wait too.
      if (pool_.protocol_ != http::Protocol::kHttp2) Ready();
      return;
    }
    // Closed, either way.
    uint64_t tx = connection_->bytes_written();
    pool_.stats_.upstream_cx_tx_bytes_total.Inc(tx);
    if (event == network::ConnectionEvent::kRemoteClose) {
      pool_.stats_.upstream_cx_destroy_remote.Inc();
    } else {
      pool_.stats_.upstream_cx_destroy_local.Inc();
    }
    pool_.stats_.upstream_cx_destroy.Inc();
    closed_ = true;
    if (connected_) {
      codec_->OnClose(http::StreamResetReason::kConnectionTermination, connection_->close_reason());
    }
    pool_.OnClientClosed(*this, !connected_, timed_out_);  // destroys *this (deferred)
  }
  void OnSettings() override {
    pool_.expected_streams_per_connection_ = codec_->MaxConcurrentStreams();
    if (!connected_) {
      Ready();
      return;
    }
    pool_.OnClientReady(*this);  // the peer may allow more streams now
  }
  void Ready() {
    connect_timer_->Disable();
    connected_ = true;
    pool_.OnClientReady(*this);
  }
  // The upstream reads the request body slower than the client sends it.
  void OnAboveWriteHighWatermark() override { codec_->OnAboveWriteBufferHighWatermark(); }
  void OnBelowWriteLowWatermark() override { codec_->OnBelowWriteBufferLowWatermark(); }

  // http::ClientConnectionCallbacks
  void OnStreamDone(bool reusable) override {
    if (active_ > 0) --active_;
    auto max = pool_.cluster_.max_requests_per_connection;
    if (max && requests_ >= *max && !draining_) {
      pool_.stats_.upstream_cx_max_requests.Inc();
      draining_ = true;
    }
    if (!reusable || !codec_->WantsMoreStreams()) draining_ = true;
    if (draining_) {
      // HTTP/1 has no other stream; HTTP/2 lets the others finish first.
      if (active_ == 0 && !closed_) connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    pool_.OnClientReady(*this);
  }
  void OnGoAway() override {
    draining_ = true;
    if (active_ == 0) {
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    pool_.ServePending();  // requests that waited for this connection need another
  }

  // Whether it can take one more stream now.
  bool HasRoom() const {
    if (!connected_ || closed_ || draining_ || !codec_->WantsMoreStreams()) return false;
    auto max = pool_.cluster_.max_requests_per_connection;
    if (max && requests_ >= *max) return false;
    return active_ < codec_->MaxConcurrentStreams();
  }
  // Streams it will take once connected (the peer's SETTINGS are not known yet).
  size_t ExpectedCapacity() const {
    return pool_.protocol_ == http::Protocol::kHttp2 ? pool_.expected_streams_per_connection_ : 1;
  }

  http::StreamEncoder& StartStream(http::StreamDecoder& decoder) {
    ++active_;
    ++requests_;
    idle_timer_->Disable();
    http::StreamEncoder& encoder = codec_->NewStream(decoder);
    return encoder;
  }
  void ArmIdleTimer() {
    if (pool_.cluster_.upstream_idle_timeout.count() > 0) {
      idle_timer_->Enable(pool_.cluster_.upstream_idle_timeout);
    }
  }

  HttpConnPool& pool_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::ClientConnection> codec_;
  std::unique_ptr<event::Timer> connect_timer_;
  std::unique_ptr<event::Timer> idle_timer_;
  event::MonotonicTime connect_start_;
  bool connected_ = false;
  bool timed_out_ = false;
  bool closed_ = false;
  bool draining_ = false;  // takes no new streams (GOAWAY, max requests, no keep-alive)
  size_t active_ = 0;      // streams in flight
  uint32_t requests_ = 0;  // streams started
};

// A request waiting for a connection. It holds one of the cluster's max_pending_requests for as
// long as it exists.
struct HttpConnPool::Pending : public PendingRequest {
  Pending(HttpConnPool& pool, http::StreamDecoder& decoder, ConnPoolCallbacks& callbacks)
      : pool(pool), decoder(decoder), callbacks(callbacks) {
    pool.cluster_.resources->pending_requests.Inc();
  }
  ~Pending() override { pool.cluster_.resources->pending_requests.Dec(); }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;
  void Cancel() override {
    pool.stats_.upstream_rq_pending_active.Dec();
    pool.pending_.remove_if([this](const std::unique_ptr<Pending>& p) { return p.get() == this; });
  }
  HttpConnPool& pool;
  http::StreamDecoder& decoder;
  ConnPoolCallbacks& callbacks;
};

HttpConnPool::HttpConnPool(event::Dispatcher& dispatcher, const upstream::ClusterConfig& cluster,
                           upstream::HostConstSharedPtr host, ClusterStats& stats,
                           HostStats host_stats, UpstreamTransport transport,
                           http::Protocol protocol)
    : dispatcher_(dispatcher),
      cluster_(cluster),
      host_(std::move(host)),
      stats_(stats),
      transport_(std::move(transport)),
      host_stats_(host_stats),
      protocol_(protocol),
      expected_streams_per_connection_(cluster.http2.max_concurrent_streams) {}

HttpConnPool::~HttpConnPool() {
  for (auto& p : pending_) stats_.upstream_rq_pending_active.Dec();
  pending_.clear();
  for (auto& c : clients_) {
    c->connection_->SetCallbacks(nullptr);
    if (!c->closed_) {
      cluster_.resources->connections.Dec();
      stats_.upstream_cx_active.Dec();
      host_stats_.cx_active.Dec();
    }
  }
}

PendingRequest* HttpConnPool::NewStream(http::StreamDecoder& response_decoder,
                                        ConnPoolCallbacks& callbacks) {
  // Most recently used connection with room first: for HTTP/1 it is the one least likely to
  // have been closed by the upstream's own idle timeout.
  for (auto it = clients_.rbegin(); it != clients_.rend(); ++it) {
    ActiveClient& c = **it;
    if (c.HasRoom()) {
      Attach(c, response_decoder, callbacks);
      return nullptr;
    }
  }
  // Circuit breaker: max_pending_requests, across the cluster's pools on every worker.
  if (!cluster_.resources->pending_requests.CanCreate()) {
    stats_.upstream_rq_pending_overflow.Inc();
    callbacks.OnPoolFailure(PoolFailureReason::kOverflow, "");
    return nullptr;
  }
  // A new connection, unless one on its way will have room for this request (HTTP/2), or the
  // cluster is at max_connections (then the request waits for one of this pool's to free up).
  if (pending_.size() + 1 > ConnectingCapacity() && MayOpenConnection()) {
    std::string error;
    if (!OpenConnection(&error)) {
      ReportResult({health::HostResult::Kind::kConnectFailed, 0});
      callbacks.OnPoolFailure(PoolFailureReason::kConnectionFailure, error);
      return nullptr;
    }
  }
  stats_.upstream_rq_pending_total.Inc();
  stats_.upstream_rq_pending_active.Inc();
  pending_.push_back(std::make_unique<Pending>(*this, response_decoder, callbacks));
  return pending_.back().get();
}

bool HttpConnPool::OpenConnection(std::string* error) {
  network::Address to = network::AddressFromSockaddr(
      reinterpret_cast<const sockaddr*>(&host_->address), host_->address_len);
  auto connection = network::Connection::Connect(dispatcher_, to,
                                                 cluster_.per_connection_buffer_limit_bytes, error);
  stats_.upstream_cx_total.Inc();
  (protocol_ == http::Protocol::kHttp2 ? stats_.upstream_cx_http2_total
                                       : stats_.upstream_cx_http1_total)
      .Inc();
  host_stats_.cx_total.Inc();
  if (!connection) {
    stats_.upstream_cx_connect_fail.Inc();
    host_stats_.cx_connect_fail.Inc();
    return false;
  }
  if (transport_.match_count != nullptr) transport_.match_count->Inc();
  if (transport_.tls != nullptr &&
      !tls::SecureConnection(*connection, *transport_.tls, stats_.ssl ? &*stats_.ssl : nullptr,
                             transport_.sessions)) {
    *error = "TLS secrets not available yet";
    stats_.upstream_cx_connect_fail.Inc();
    host_stats_.cx_connect_fail.Inc();
    return false;
  }
  stats_.upstream_cx_active.Inc();
  host_stats_.cx_active.Inc();
  cluster_.resources->connections.Inc();
  clients_.push_back(std::make_unique<ActiveClient>(*this, std::move(connection)));
  return true;
}

void HttpConnPool::Attach(ActiveClient& client, http::StreamDecoder& decoder,
                          ConnPoolCallbacks& callbacks) {
  http::StreamEncoder& encoder = client.StartStream(decoder);
  callbacks.OnPoolReady(encoder, *client.connection_);
}

void HttpConnPool::OnClientReady(ActiveClient& client) {
  while (!pending_.empty() && client.HasRoom()) {
    std::unique_ptr<Pending> p = std::move(pending_.front());
    pending_.pop_front();
    stats_.upstream_rq_pending_active.Dec();
    Attach(client, p->decoder, p->callbacks);
  }
  if (client.active_ == 0 && !client.closed_) client.ArmIdleTimer();
  // The connection took what it could (HTTP/2: the peer's limit may be low): the rest need more.
  if (!pending_.empty()) ServePending();
}

size_t HttpConnPool::ConnectingCapacity() const {
  size_t capacity = 0;
  for (auto& c : clients_) {
    if (!c->connected_ && !c->closed_) capacity += c->ExpectedCapacity();
  }
  return capacity;
}

void HttpConnPool::OnClientClosed(ActiveClient& client, bool connect_failed, bool timed_out) {
  cluster_.resources->connections.Dec();
  stats_.upstream_cx_active.Dec();
  host_stats_.cx_active.Dec();
  if (connect_failed) {
    stats_.upstream_cx_connect_fail.Inc();
    host_stats_.cx_connect_fail.Inc();
    if (timed_out) stats_.upstream_cx_connect_timeout.Inc();
    ReportResult(
        {timed_out ? health::HostResult::Kind::kTimeout : health::HostResult::Kind::kConnectFailed,
         0});
    // The requests that were waiting for this connection fail (the oldest first); the others
    // still have a connection on its way. `client` is closed, so it no longer counts.
    std::string details = timed_out ? "connection timeout" : client.connection_->close_reason();
    size_t failing = 1;
    if (protocol_ == http::Protocol::kHttp2) {
      size_t capacity = ConnectingCapacity();
      failing = pending_.size() > capacity ? pending_.size() - capacity : 0;
    }
    for (size_t i = 0; i < failing && !pending_.empty(); ++i) {
      std::unique_ptr<Pending> p = std::move(pending_.front());
      pending_.pop_front();
      stats_.upstream_rq_pending_active.Dec();
      p->callbacks.OnPoolFailure(
          timed_out ? PoolFailureReason::kTimeout : PoolFailureReason::kConnectionFailure, details);
    }
  }
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->get() == &client) {
      // Deferred: the client's connection is still on the call stack.
      dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
      clients_.erase(it);
      break;
    }
  }
  ServePending();
}

bool HttpConnPool::MayOpenConnection() {
  // Circuit breaker: max_connections across the cluster. Like Envoy, a pool with no connection
  // at all may still open one, so no host is starved by the others' connections.
  if (cluster_.resources->connections.CanCreate() || clients_.empty()) return true;
  stats_.upstream_cx_overflow.Inc();
  return false;
}

void HttpConnPool::ServePending() {
  // A connection closed while requests still wait (e.g. an idle one the upstream dropped):
  // make sure each waiting request has a connection on its way (within max_connections).
  size_t connecting = ConnectingCapacity();
  while (connecting < pending_.size() && MayOpenConnection()) {
    std::string error;
    if (!OpenConnection(&error)) {
      std::unique_ptr<Pending> p = std::move(pending_.front());
      pending_.pop_front();
      stats_.upstream_rq_pending_active.Dec();
      p->callbacks.OnPoolFailure(PoolFailureReason::kConnectionFailure, error);
      continue;
    }
    connecting += clients_.back()->ExpectedCapacity();
  }
}

void HttpConnPool::EnableOutlierReporting(std::unique_ptr<health::HostOutcomeRecorder> recorder,
                                          std::function<void(health::EjectionType)> on_threshold) {
  outcomes_ = std::move(recorder);
  on_outlier_threshold_ = std::move(on_threshold);
}

void HttpConnPool::RecordOutcome(const health::HostResult& result) {
  const uint32_t reached = outcomes_->Record(result, *cluster_.outlier_detection);
  if (reached == 0) return;
  for (int type = 0; type < health::kEjectionTypes; ++type) {
    if (reached & (1u << type)) on_outlier_threshold_(static_cast<health::EjectionType>(type));
  }
}

void HttpConnPool::CloseIdle() {
  std::vector<ActiveClient*> idle;
  for (auto& c : clients_) {
    if (c->connected_ && c->active_ == 0 && !c->closed_) idle.push_back(c.get());
  }
  for (ActiveClient* c : idle) c->connection_->Close(network::Connection::CloseType::kNoFlush);
}

}  // namespace weft::cluster
