// The tcp_proxy network filter: one downstream connection relayed byte for byte to one upstream
// connection, with half-close in both directions, watermark flow control (a slow reader on one
// side pauses reading on the other) and an idle timeout.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "event/dispatcher.h"
#include "network/connection.h"
#include "proxy/access_log/access_log.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/http/worker_context.h"
#include "proxy/listener/listener_config.h"

namespace weft::proxy {

// Prepared once per filter chain on the main thread.
struct TcpProxyRuntime {
  const listener::TcpProxyConfig* config = nullptr;
  std::vector<access_log::AccessLog> access_logs;
};

class TcpProxySession : public event::DeferredDeletable {
 public:
  TcpProxySession(WorkerContext& worker, std::shared_ptr<const TcpProxyRuntime> runtime,
                  std::unique_ptr<network::Connection> downstream,
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
  void ResetIdleTimer();
  void Finish();

  WorkerContext& worker_;
  std::shared_ptr<const TcpProxyRuntime> runtime_;
  std::unique_ptr<network::Connection> downstream_;
  std::unique_ptr<network::Connection> upstream_;
  std::unique_ptr<DownstreamCallbacks> downstream_callbacks_;
  std::unique_ptr<UpstreamCallbacks> upstream_callbacks_;
  std::function<void(TcpProxySession*)> on_closed_;
  std::unique_ptr<event::Timer> idle_timer_;
  std::unique_ptr<event::Timer> connect_timer_;
  network::Buffer early_data_;  // downstream bytes that arrived before the upstream connected
  bool early_end_stream_ = false;
  bool upstream_connected_ = false;
  bool downstream_closed_ = false;
  bool upstream_closed_ = false;
  bool finished_ = false;
  uint32_t connect_attempts_ = 0;
  std::string cluster_name_;
  access_log::StreamInfo info_;
};

}  // namespace weft::proxy
