#include "proxy/tcp/tcp_proxy.h"

#include "base/logging.h"
#include "proxy/filters/istio_series_cache.h"
#include "proxy/filters/istio_stats.h"
#include "proxy/tls/tls_socket.h"

namespace weft::proxy {

class TcpProxySession::DownstreamCallbacks : public network::ConnectionCallbacks {
 public:
  explicit DownstreamCallbacks(TcpProxySession& s) : s_(s) {}
  void OnData(network::Buffer& data, bool end_stream) override {
    s_.OnDownstreamData(data, end_stream);
  }
  void OnEvent(network::ConnectionEvent event) override { s_.OnDownstreamEvent(event); }
  // The client reads slower than the upstream sends: stop reading the upstream.
  void OnAboveWriteHighWatermark() override {
    if (s_.upstream_) s_.upstream_->ReadDisable(true);
  }
  void OnBelowWriteLowWatermark() override {
    if (s_.upstream_) s_.upstream_->ReadDisable(false);
  }

 private:
  TcpProxySession& s_;
};

class TcpProxySession::UpstreamCallbacks : public network::ConnectionCallbacks {
 public:
  explicit UpstreamCallbacks(TcpProxySession& s) : s_(s) {}
  void OnData(network::Buffer& data, bool end_stream) override {
    s_.OnUpstreamData(data, end_stream);
  }
  void OnEvent(network::ConnectionEvent event) override { s_.OnUpstreamEvent(event); }
  void OnAboveWriteHighWatermark() override { s_.downstream_->ReadDisable(true); }
  void OnBelowWriteLowWatermark() override { s_.downstream_->ReadDisable(false); }

 private:
  TcpProxySession& s_;
};

TcpProxySession::TcpProxySession(WorkerContext& worker,
                                 std::shared_ptr<const TcpProxyRuntime> runtime,
                                 TcpProxyStats& stats,
                                 std::unique_ptr<network::Connection> downstream,
                                 std::function<void(TcpProxySession*)> on_closed)
    : worker_(worker),
      runtime_(std::move(runtime)),
      stats_(stats),
      downstream_(std::move(downstream)),
      on_closed_(std::move(on_closed)) {
  downstream_callbacks_ = std::make_unique<DownstreamCallbacks>(*this);
  upstream_callbacks_ = std::make_unique<UpstreamCallbacks>(*this);
  downstream_->SetCallbacks(downstream_callbacks_.get());
  info_.start_time = worker_.dispatcher.SystemNow();
  info_.start_monotonic = worker_.dispatcher.Now();
  info_.downstream_local_address = downstream_->local_address_string();
  info_.downstream_remote_address = downstream_->remote_address_string();
  info_.downstream_direct_remote_address = info_.downstream_remote_address;
  idle_timer_.emplace(worker_.dispatcher, [this] {
    stats_.idle_timeout.Inc();
    CloseAll(network::Connection::CloseType::kFlushWrite);
    return true;
  });
}

TcpProxySession::~TcpProxySession() {
  if (upstream_) upstream_->SetCallbacks(nullptr);
  if (downstream_) downstream_->SetCallbacks(nullptr);
}

void TcpProxySession::Start() {
  const auto& cfg = *runtime_->config;
  stats_.downstream_cx_total.Inc();
  // A TLS chain's session starts after the handshake (the worker's HandshakeGate): the peer's
  // identity is known from the start, for filters and metrics as well as the access log.
  info_.SetDownstreamSecurity(downstream_->shared_security_info());
  StartExchange(downstream_exchange_, *downstream_, runtime_->downstream_exchange_protocol);
  // Pick the cluster (weighted clusters by weight).
  cluster_name_ = cfg.cluster;
  if (!cfg.weighted_clusters.empty() && cfg.total_weight > 0) {
    uint64_t pick = worker_.random.Uniform(cfg.total_weight);
    for (const auto& wc : cfg.weighted_clusters) {
      if (pick < wc.weight) {
        cluster_name_ = wc.name;
        break;
      }
      pick -= wc.weight;
    }
  }
  info_.upstream_cluster = cluster_name_;
  // Hold downstream bytes until the upstream is there (bounded by the connection's buffer limit).
  downstream_->ReadDisable(true);
  ConnectUpstream();
  idle_timer_->Start(cfg.idle_timeout);
}

void TcpProxySession::ConnectUpstream() {
  ++connect_attempts_;
  cluster::ThreadLocalCluster* cluster = worker_.clusters.Get(cluster_name_);
  if (cluster == nullptr) {
    info_.response_flags |= access_log::kNoClusterFound;
    stats_.downstream_cx_no_route.Inc();
    CloseAll(network::Connection::CloseType::kNoFlush);
    return;
  }
  network::Address to;
  const upstream::Host* chosen = nullptr;
  if (cluster->config().type == upstream::DiscoveryType::kOriginalDst) {
    to = downstream_->local_address();
  } else {
    int host = cluster->ChooseHost({});
    if (host < 0) {
      cluster->stats().upstream_cx_none_healthy.Inc();
      info_.response_flags |= access_log::kNoHealthyUpstream;
      CloseAll(network::Connection::CloseType::kNoFlush);
      return;
    }
    const upstream::Host& h = cluster->host(host);
    chosen = &h;
    to = network::AddressFromSockaddr(reinterpret_cast<const sockaddr*>(&h.address), h.address_len);
  }
  info_.upstream_host = to.ToString();
  std::string error;
  cluster->stats().upstream_cx_total.Inc();
  upstream_ = network::Connection::Connect(
      worker_.dispatcher, to, cluster->config().per_connection_buffer_limit_bytes, &error);
  if (!upstream_) {
    cluster->stats().upstream_cx_connect_fail.Inc();
    info_.response_flags |= access_log::kUpstreamConnectionFailure;
    info_.upstream_transport_failure_reason = error;
    CloseAll(network::Connection::CloseType::kNoFlush);
    return;
  }
  auto transport = cluster->TransportFor(chosen);
  if (transport.match_count != nullptr) transport.match_count->Inc();
  if (transport.tls != nullptr) {
    auto& ssl = cluster->stats().ssl;
    if (!tls::SecureConnection(*upstream_, *transport.tls, ssl ? &*ssl : nullptr,
                               std::move(transport.sessions))) {
      cluster->stats().upstream_cx_connect_fail.Inc();
      info_.response_flags |= access_log::kUpstreamConnectionFailure;
      info_.upstream_transport_failure_reason = "TLS secrets not available yet";
      CloseAll(network::Connection::CloseType::kNoFlush);
      return;
    }
  }
  cluster->stats().upstream_cx_active.Inc();
  upstream_->SetCallbacks(upstream_callbacks_.get());
  connect_timer_ = worker_.dispatcher.CreateTimer([this] {
    if (auto* c = worker_.clusters.Get(cluster_name_)) c->stats().upstream_cx_connect_timeout.Inc();
    info_.upstream_transport_failure_reason = "connection timeout";
    upstream_->Close(network::Connection::CloseType::kNoFlush);
  });
  connect_timer_->Enable(cluster->config().connect_timeout);
}

// Byte counters are added once, when the upstream connection ends, instead of per read.
void TcpProxySession::CountUpstreamBytes() {
  if (!upstream_) return;
  if (auto* c = worker_.clusters.Get(cluster_name_)) {
    c->stats().upstream_cx_rx_bytes_total.Inc(upstream_->bytes_read());
    c->stats().upstream_cx_tx_bytes_total.Inc(upstream_->bytes_written());
  }
}

void TcpProxySession::StartExchange(PeerExchange& exchange, network::Connection& connection,
                                    const std::string& protocol) {
  const network::SecurityInfo* security = connection.security_info();
  if (protocol.empty() || security == nullptr || security->alpn != protocol) return;
  // Istio writes its frame on the connection's first read or write; nothing was written yet,
  // so writing it now puts it at the same place on the wire.
  connection.Write(filters::istio::LocalExchangeFrame(), false);
  exchange.reading = true;
}

bool TcpProxySession::ReadPeerFrame(PeerExchange& exchange, network::Buffer& data,
                                    bool end_stream) {
  if (!exchange.reading) return true;
  exchange.pending.Move(data);
  filters::istio::MxRead read = filters::istio::ReadMxFrame(exchange.pending.view());
  if (read.status == filters::istio::MxRead::Status::kNeedMore && !end_stream) return false;
  exchange.reading = false;
  if (read.status == filters::istio::MxRead::Status::kDone) {
    if (read.peer) {
      exchange.peer =
          filters::istio::SeriesCache::Of(worker_.stats)
              .PeerFromExchange(read.peer_struct, std::move(*read.peer), exchange.overflow_peer);
    }
    exchange.pending.Drain(read.size);
  }
  // Not a frame (or cut short by the end of the stream): the bytes are the application's,
  // relayed as they came, and the peer stays unknown.
  data.Move(exchange.pending);
  return true;
}

void TcpProxySession::OnDownstreamData(network::Buffer& data, bool end_stream) {
  idle_timer_->Touch();
  if (!ReadPeerFrame(downstream_exchange_, data, end_stream)) return;
  ReportIstioOpened();
  info_.bytes_received += data.length();
  if (upstream_connected_ && upstream_ && upstream_->IsOpen()) {
    upstream_->Write(data, end_stream);
  } else {
    early_data_.Move(data);
    early_end_stream_ = early_end_stream_ || end_stream;
  }
}

void TcpProxySession::OnUpstreamData(network::Buffer& data, bool end_stream) {
  idle_timer_->Touch();
  if (!ReadPeerFrame(upstream_exchange_, data, end_stream)) return;
  ReportIstioOpened();
  info_.bytes_sent += data.length();
  downstream_->Write(data, end_stream);
}

void TcpProxySession::OnUpstreamEvent(network::ConnectionEvent event) {
  if (event == network::ConnectionEvent::kConnected) {
    connect_timer_->Disable();
    upstream_connected_ = true;
    info_.SetUpstreamSecurity(upstream_->shared_security_info());
    // Cluster.filters' istio.metadata_exchange: our frame goes before the client's bytes.
    if (auto* cluster = worker_.clusters.Get(cluster_name_)) {
      StartExchange(upstream_exchange_, *upstream_, cluster->config().metadata_exchange_protocol);
    }
    if (early_data_.length() > 0 || early_end_stream_) {
      upstream_->Write(early_data_, early_end_stream_);
      ReportIstioOpened();  // bytes already went through: the connection is open
    }
    downstream_->ReadDisable(false);
    return;
  }
  upstream_closed_ = true;
  CountUpstreamBytes();
  cluster::ThreadLocalCluster* cluster = worker_.clusters.Get(cluster_name_);
  if (cluster) cluster->stats().upstream_cx_active.Dec();
  if (!upstream_connected_) {
    if (cluster) cluster->stats().upstream_cx_connect_fail.Inc();
    if (connect_attempts_ < runtime_->config->max_connect_attempts && !downstream_closed_) {
      worker_.dispatcher.DeferredDelete(event::DeferLater(std::move(upstream_)));
      upstream_closed_ = false;
      ConnectUpstream();
      return;
    }
    info_.response_flags |= access_log::kUpstreamConnectionFailure;
    if (info_.upstream_transport_failure_reason.empty()) {
      info_.upstream_transport_failure_reason = upstream_->close_reason();
    }
    CloseAll(network::Connection::CloseType::kNoFlush);
    return;
  }
  // The upstream closed: finish writing what it sent, then close the client too.
  if (event == network::ConnectionEvent::kRemoteClose && upstream_->reset_by_peer()) {
    info_.response_flags |= access_log::kUpstreamConnectionTermination;
  }
  CloseAll(network::Connection::CloseType::kFlushWrite);
}

void TcpProxySession::OnDownstreamEvent(network::ConnectionEvent event) {
  if (event == network::ConnectionEvent::kConnected) return;
  downstream_closed_ = true;
  if (!upstream_closed_ && !finished_) {
    if (event == network::ConnectionEvent::kRemoteClose && downstream_->reset_by_peer()) {
      info_.response_flags |= access_log::kDownstreamConnectionTermination;
    }
    CloseAll(network::Connection::CloseType::kFlushWrite);
  }
  Finish();
}

void TcpProxySession::CloseAll(network::Connection::CloseType type) {
  idle_timer_->Stop();
  if (connect_timer_) connect_timer_->Disable();
  if (upstream_ && upstream_->IsOpen()) upstream_->Close(type);
  if (downstream_->IsOpen()) {
    downstream_->Close(type);  // raises OnDownstreamEvent -> Finish() once really closed
  } else {
    Finish();
  }
}

// Istio counts a connection as opened when its filter chain starts; here that is the first byte
// either way (a TLS downstream's handshake, and so its peer identity, is done by then) or its
// close, whichever comes first, so that opened and closed carry the same identity labels.
void TcpProxySession::ReportIstioOpened(bool closing) {
  if (istio_opened_ || runtime_->istio_stats == nullptr) return;
  if (!closing &&
      (!upstream_connected_ || downstream_exchange_.reading || upstream_exchange_.reading)) {
    return;
  }
  istio_opened_ = true;
  filters::istio::RecordTcpOpened(*runtime_->istio_stats, worker_.stats, info_, IstioPeer());
}

void TcpProxySession::Finish() {
  if (finished_ || downstream_->IsOpen()) return;
  finished_ = true;
  info_.request_complete = worker_.dispatcher.Now() - info_.start_monotonic;
  stats_.downstream_cx_rx_bytes_total.Inc(downstream_->bytes_read());
  stats_.downstream_cx_tx_bytes_total.Inc(downstream_->bytes_written());
  if (runtime_->istio_stats != nullptr) {
    ReportIstioOpened(/*closing=*/true);
    filters::istio::RecordTcpClosed(*runtime_->istio_stats, worker_.stats, info_,
                                    downstream_->bytes_read(), downstream_->bytes_written(),
                                    IstioPeer());
  }
  worker_.access_logs.Write(runtime_->access_logs, info_);
  if (on_closed_) on_closed_(this);
}

}  // namespace weft::proxy
