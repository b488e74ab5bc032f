#include "proxy/cluster_manager/conn_pool.h"

#include "base/logging.h"
#include "proxy/codec/codec_factory.h"

namespace weft::cluster {

// One upstream connection and its codec.
class HttpConnPool::ActiveClient : public network::ConnectionCallbacks,
                                   public http::ClientConnectionCallbacks {
 public:
  ActiveClient(HttpConnPool& pool, std::unique_ptr<network::Connection> connection)
      : pool_(pool), connection_(std::move(connection)) {
    connection_->SetCallbacks(this);
    codec_ = http::CreateHttp1ClientCodec(*connection_, *this);
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
      connect_timer_->Disable();
      connected_ = true;
      pool_.stats_.upstream_cx_connect_ms.Record(
          std::chrono::duration<double, std::milli>(pool_.dispatcher_.Now() - connect_start_)
              .count());
      pool_.ReportResult({health::HostResult::Kind::kConnectSuccess, 0});
      pool_.OnClientReady(*this);
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
  // The upstream reads the request body slower than the client sends it.
  void OnAboveWriteHighWatermark() override { codec_->OnAboveWriteBufferHighWatermark(); }
  void OnBelowWriteLowWatermark() override { codec_->OnBelowWriteBufferLowWatermark(); }

  // http::ClientConnectionCallbacks
  void OnStreamDone(bool reusable) override {
    busy_ = false;
    ++requests_;
    auto max = pool_.cluster_.max_requests_per_connection;
    if (max && requests_ >= *max) {
      pool_.stats_.upstream_cx_max_requests.Inc();
      reusable = false;
    }
    if (!reusable || !codec_->WantsMoreStreams()) {
      // Close after the current callback stack unwinds: the codec is still on it.
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    pool_.OnClientReady(*this);
  }

  http::StreamEncoder& StartStream(http::StreamDecoder& decoder) {
    busy_ = true;
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
  bool busy_ = false;
  bool closed_ = false;
  uint32_t requests_ = 0;
};

struct HttpConnPool::Pending : public PendingRequest {
  Pending(HttpConnPool& pool, http::StreamDecoder& decoder, ConnPoolCallbacks& callbacks)
      : pool(pool), decoder(decoder), callbacks(callbacks) {}
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
                           HostStats host_stats)
    : dispatcher_(dispatcher),
      cluster_(cluster),
      host_(std::move(host)),
      stats_(stats),
      host_stats_(host_stats) {}

HttpConnPool::~HttpConnPool() {
  for (auto& p : pending_) stats_.upstream_rq_pending_active.Dec();
  pending_.clear();
  for (auto& c : clients_) {
    c->connection_->SetCallbacks(nullptr);
    if (!c->closed_) {
      stats_.upstream_cx_active.Dec();
      host_stats_.cx_active.Dec();
    }
  }
}

PendingRequest* HttpConnPool::NewStream(http::StreamDecoder& response_decoder,
                                        ConnPoolCallbacks& callbacks) {
  // Most recently used idle connection first: it is the one least likely to have been closed by
  // the upstream's own idle timeout.
  for (auto it = clients_.rbegin(); it != clients_.rend(); ++it) {
    ActiveClient& c = **it;
    if (c.connected_ && !c.busy_ && !c.closed_) {
      Attach(c, response_decoder, callbacks);
      return nullptr;
    }
  }
  // A new connection for this request.
  std::string error;
  if (!OpenConnection(&error)) {
    ReportResult({health::HostResult::Kind::kConnectFailed, 0});
    callbacks.OnPoolFailure(PoolFailureReason::kConnectionFailure, error);
    return nullptr;
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
  host_stats_.cx_total.Inc();
  if (!connection) {
    stats_.upstream_cx_connect_fail.Inc();
    host_stats_.cx_connect_fail.Inc();
    return false;
  }
  stats_.upstream_cx_active.Inc();
  host_stats_.cx_active.Inc();
  clients_.push_back(std::make_unique<ActiveClient>(*this, std::move(connection)));
  return true;
}

void HttpConnPool::Attach(ActiveClient& client, http::StreamDecoder& decoder,
                          ConnPoolCallbacks& callbacks) {
  http::StreamEncoder& encoder = client.StartStream(decoder);
  callbacks.OnPoolReady(encoder, *client.connection_);
}

void HttpConnPool::OnClientReady(ActiveClient& client) {
  if (client.closed_) return;
  if (!pending_.empty()) {
    std::unique_ptr<Pending> p = std::move(pending_.front());
    pending_.pop_front();
    stats_.upstream_rq_pending_active.Dec();
    Attach(client, p->decoder, p->callbacks);
    return;
  }
  client.ArmIdleTimer();
}

void HttpConnPool::OnClientClosed(ActiveClient& client, bool connect_failed, bool timed_out) {
  stats_.upstream_cx_active.Dec();
  host_stats_.cx_active.Dec();
  if (connect_failed) {
    stats_.upstream_cx_connect_fail.Inc();
    host_stats_.cx_connect_fail.Inc();
    if (timed_out) stats_.upstream_cx_connect_timeout.Inc();
    ReportResult(
        {timed_out ? health::HostResult::Kind::kTimeout : health::HostResult::Kind::kConnectFailed,
         0});
    // The connection that failed was opened for the oldest waiting request.
    if (!pending_.empty()) {
      std::unique_ptr<Pending> p = std::move(pending_.front());
      pending_.pop_front();
      stats_.upstream_rq_pending_active.Dec();
      std::string details = timed_out ? "connection timeout" : client.connection_->close_reason();
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

void HttpConnPool::ServePending() {
  // A connection closed while requests still wait (e.g. an idle one the upstream dropped):
  // make sure each waiting request has a connection on its way.
  size_t connecting = 0;
  for (auto& c : clients_) connecting += (!c->connected_ && !c->closed_) ? 1 : 0;
  while (connecting < pending_.size()) {
    std::string error;
    if (!OpenConnection(&error)) {
      std::unique_ptr<Pending> p = std::move(pending_.front());
      pending_.pop_front();
      stats_.upstream_rq_pending_active.Dec();
      p->callbacks.OnPoolFailure(PoolFailureReason::kConnectionFailure, error);
      continue;
    }
    ++connecting;
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
    if (c->connected_ && !c->busy_ && !c->closed_) idle.push_back(c.get());
  }
  for (ActiveClient* c : idle) c->connection_->Close(network::Connection::CloseType::kNoFlush);
}

}  // namespace weft::cluster
