// The HTTP connection manager: one per downstream connection of an http_connection_manager
// filter chain. It runs the codec over the socket, and for each request an ActiveStream that
// picks a route and either answers locally (direct response, redirect, 404, 503, ...) or forwards
// the request upstream through the cluster's connection pool and streams the response back.
//
// Not thread-safe: lives on one worker's dispatcher.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event/dispatcher.h"
#include "event/idle_timer.h"
#include "network/connection.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/codec/codec.h"
#include "proxy/http/hcm_runtime.h"
#include "proxy/http/hcm_stats.h"
#include "proxy/http/worker_context.h"

namespace weft::proxy {

class ActiveStream;

class HttpConnectionManager : public network::ConnectionCallbacks,
                              public http::ServerConnectionCallbacks,
                              public event::DeferredDeletable {
 public:
  // `on_closed` runs once when the connection is gone; the owner then deletes this (deferred).
  HttpConnectionManager(WorkerContext& worker, std::shared_ptr<const HcmRuntime> runtime,
                        HcmStats& stats, std::unique_ptr<network::Connection> connection,
                        std::function<void(HttpConnectionManager*)> on_closed);
  ~HttpConnectionManager() override;

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override;
  void OnEvent(network::ConnectionEvent event) override;
  void OnAboveWriteHighWatermark() override;
  void OnBelowWriteLowWatermark() override;

  // http::ServerConnectionCallbacks
  http::StreamDecoder& NewStream(http::StreamEncoder& response_encoder) override;
  void OnProtocolError(uint32_t status, std::string_view details) override;

  // Drain: stop keeping the connection alive after the current request; an idle HTTP/1
  // connection is closed now (its listener is gone, or the proxy is shutting down).
  void StartDrain();
  // The connection's filter chain was replaced (an LDS update): it serves at most one more
  // request with the old chain, then ends — HTTP/1 answers it with "connection: close", HTTP/2
  // gets GOAWAY. An idle HTTP/1 connection is not cut at once (a request may already be on its
  // way: the client would see a reset) but after the HCM's drain_timeout, so a stale chain
  // (an AuthorizationPolicy just deleted or added) outlives the update by seconds at most.
  // Envoy drains an updated listener the same way, force-closing at the end of its drain time.
  void DrainAfterNextResponse();

  WorkerContext& worker() { return worker_; }
  const HcmRuntime& runtime() const { return *runtime_; }
  HcmStats& stats() { return stats_; }
  network::Connection& connection() { return *connection_; }

 private:
  friend class ActiveStream;
  void OnStreamDone(ActiveStream& stream);
  void CloseConnection(network::Connection::CloseType type);
  // Creates the codec codec_type asks for; for AUTO once the first bytes tell HTTP/2's preface
  // from HTTP/1. False while they cannot tell yet (the bytes stay in `data`).
  bool CreateCodec(const network::Buffer& data);

  WorkerContext& worker_;
  std::shared_ptr<const HcmRuntime> runtime_;
  HcmStats& stats_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::Connection> codec_;
  std::function<void(HttpConnectionManager*)> on_closed_;
  // A vector, not a list: HTTP/1 has one stream at a time and HTTP/2 a bounded few, and a
  // list node per request was one more allocation; the vector keeps its capacity.
  std::vector<std::unique_ptr<ActiveStream>> streams_;
  std::optional<event::IdleTimer> idle_timer_;           // no stream active for idle_timeout
  std::unique_ptr<event::Timer> request_headers_timer_;  // first request's headers too slow
  std::unique_ptr<event::Timer> stale_chain_timer_;      // DrainAfterNextResponse's grace
  event::MonotonicTime start_;
  bool closed_ = false;
  bool peer_closed_ = false;  // the client closed its side while a stream was active
  bool saw_request_ = false;
  bool read_disabled_for_watermark_ = false;
  bool http2_ = false;  // the codec is HTTP/2 (stats and flow control differ)
  uint32_t requests_ = 0;
};

}  // namespace weft::proxy
