// The tcp_proxy network filter: one downstream connection relayed byte for byte to one upstream
// connection, with half-close in both directions, watermark flow control (a slow reader on one
// side pauses reading on the other) and an idle timeout.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "event/dispatcher.h"
#include "event/idle_timer.h"
#include "network/connection.h"
#include "proxy/access_log/access_log.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/filters/istio_peer_metadata.h"
#include "proxy/http/worker_context.h"
#include "proxy/listener/listener_config.h"
#include "proxy/stats/stats.h"

namespace weft::proxy {

// tcp.<stat_prefix>.* statistics (Envoy's names), resolved once per worker per prefix.
struct TcpProxyStats {
  stats::Counter& downstream_cx_total;
  stats::Counter& downstream_cx_no_route;
  stats::Counter& downstream_cx_rx_bytes_total;
  stats::Counter& downstream_cx_tx_bytes_total;
  stats::Counter& idle_timeout;

  static TcpProxyStats Create(stats::Store& store, const std::string& stat_prefix) {
    const std::string p = "tcp." + stat_prefix + ".";
    return TcpProxyStats{
        store.counter(p + "downstream_cx_total"), store.counter(p + "downstream_cx_no_route"),
        store.counter(p + "downstream_cx_rx_bytes_total"),
        store.counter(p + "downstream_cx_tx_bytes_total"), store.counter(p + "idle_timeout")};
  }
};

// Prepared once per filter chain on the main thread.
struct TcpProxyRuntime {
  const listener::TcpProxyConfig* config = nullptr;
  const filters::istio::IstioStatsConfig* istio_stats = nullptr;  // the chain's, or null
  // The chain's istio.metadata_exchange ALPN (Istio's "istio-peer-exchange"), or "".
  std::string downstream_exchange_protocol;
  std::vector<access_log::AccessLog> access_logs;
};

class TcpProxySession : public event::DeferredDeletable {
 public:
  TcpProxySession(WorkerContext& worker, std::shared_ptr<const TcpProxyRuntime> runtime,
                  TcpProxyStats& stats, std::unique_ptr<network::Connection> downstream,
                  std::function<void(TcpProxySession*)> on_closed);
  ~TcpProxySession() override;
  void Start();

 private:
  class DownstreamCallbacks;
  class UpstreamCallbacks;
  void OnDownstreamData(network::Buffer& data, bool end_stream);
  void OnDownstreamEvent(network::ConnectionEvent event);
  void OnUpstreamData(network::Buffer& data, bool end_stream);
  void OnUpstreamEvent(network::ConnectionEvent event);
  void ConnectUpstream();
  void CloseAll(network::Connection::CloseType type);
  void CountUpstreamBytes();
  void Finish();
  // Istio's TCP metadata exchange on one side (istio_peer_metadata.h, ReadMxFrame): when the
  // connection negotiated the filter's ALPN, this proxy writes its frame first, and the peer's
  // frame is read off the front of what the peer sends before any byte is relayed.
  struct PeerExchange {
    bool reading = false;     // the peer's frame is still expected
    network::Buffer pending;  // what the peer sent while its frame is incomplete
    const filters::istio::WorkloadMetadata* peer = nullptr;  // interned; null: unknown
    std::optional<filters::istio::WorkloadMetadata> overflow_peer;
  };
  // Starts the exchange on `connection` when it negotiated `protocol`.
  void StartExchange(PeerExchange& exchange, network::Connection& connection,
                     const std::string& protocol);
  // Feeds what the peer sent. False while its frame is incomplete (the bytes wait); true once
  // read or known absent, `data` then holding the application's bytes.
  bool ReadPeerFrame(PeerExchange& exchange, network::Buffer& data, bool end_stream);
  // opened_total is counted once the labels are final: the upstream connected and both
  // exchanges done (or at close, whichever comes first).
  void ReportIstioOpened(bool closing = false);
  // The peer the labels describe: the client's inbound (reporter="destination"), the server's
  // outbound.
  const filters::istio::WorkloadMetadata* IstioPeer() const {
    return runtime_->istio_stats->reports_as_destination() ? downstream_exchange_.peer
                                                           : upstream_exchange_.peer;
  }

  WorkerContext& worker_;
  std::shared_ptr<const TcpProxyRuntime> runtime_;
  TcpProxyStats& stats_;
  std::unique_ptr<network::Connection> downstream_;
  std::unique_ptr<network::Connection> upstream_;
  std::unique_ptr<DownstreamCallbacks> downstream_callbacks_;
  std::unique_ptr<UpstreamCallbacks> upstream_callbacks_;
  std::function<void(TcpProxySession*)> on_closed_;
  std::optional<event::IdleTimer> idle_timer_;

  std::unique_ptr<event::Timer> connect_timer_;
  network::Buffer early_data_;  // downstream bytes that arrived before the upstream connected
  bool early_end_stream_ = false;
  bool upstream_connected_ = false;
  bool downstream_closed_ = false;
  bool upstream_closed_ = false;
  bool finished_ = false;
  bool istio_opened_ = false;
  uint32_t connect_attempts_ = 0;
  std::string cluster_name_;
  access_log::StreamInfo info_;
  PeerExchange downstream_exchange_;
  PeerExchange upstream_exchange_;
};

}  // namespace weft::proxy
