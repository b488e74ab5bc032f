#include "proxy/http/connection_manager.h"

#include "base/logging.h"
#include "proxy/codec/codec_factory.h"
#include "proxy/http/active_stream.h"

namespace weft::proxy {

HttpConnectionManager::HttpConnectionManager(WorkerContext& worker,
                                             std::shared_ptr<const HcmRuntime> runtime,
                                             HcmStats& stats,
                                             std::unique_ptr<network::Connection> connection,
                                             std::function<void(HttpConnectionManager*)> on_closed)
    : worker_(worker),
      runtime_(std::move(runtime)),
      stats_(stats),
      connection_(std::move(connection)),
      on_closed_(std::move(on_closed)) {
  connection_->SetCallbacks(this);
  start_ = worker_.dispatcher.Now();
  stats_.downstream_cx_total.Inc();
  stats_.downstream_cx_active.Inc();
  const auto& cfg = *runtime_->config;
  // HTTP1 and HTTP2 know their codec now; AUTO waits for the first bytes (OnData).
  if (cfg.codec_type != listener::HttpConnectionManagerConfig::CodecType::kAuto) {
    CreateCodec(network::Buffer());
  }
  // Idleness counts from the end of the last stream; a connection with a stream in progress
  // is not idle however long that stream takes.
  idle_timer_.emplace(worker_.dispatcher, [this] {
    if (!streams_.empty()) return false;
    stats_.downstream_cx_idle_timeout.Inc();
    CloseConnection(network::Connection::CloseType::kFlushWrite);
    return true;
  });
  idle_timer_->Start(cfg.idle_timeout);
  if (cfg.request_headers_timeout.count() > 0) {
    // Slow clients (slowloris): as in Envoy, a request's headers must be complete within the
    // timeout counted from their first byte (armed in OnData, disarmed by NewStream).
    request_headers_timer_ = worker_.dispatcher.CreateTimer([this] {
      stats_.downstream_rq_header_timeout.Inc();
      if (streams_.empty() && !http2_) {
        connection_->Write(
            "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            false);
      }
      CloseConnection(network::Connection::CloseType::kFlushWrite);
    });
  }
}

HttpConnectionManager::~HttpConnectionManager() {
  // Streams first: they talk to the codec as they go.
  streams_.clear();
  codec_.reset();
}

void HttpConnectionManager::OnData(network::Buffer& data, bool end_stream) {
  stats_.downstream_cx_rx_bytes_total.Inc(data.length());
  if (request_headers_timer_ && streams_.empty() && !data.empty() &&
      !request_headers_timer_->Enabled()) {
    request_headers_timer_->Enable(runtime_->config->request_headers_timeout);
  }
  if (!codec_ && !CreateCodec(data)) {
    if (end_stream) CloseConnection(network::Connection::CloseType::kNoFlush);
    return;
  }
  absl::Status status = codec_->Dispatch(data);
  if (!status.ok()) {
    stats_.downstream_cx_protocol_error.Inc();
    WEFT_LOG(debug, "downstream protocol error from {}: {}",
             connection_->remote_address().ToString(), status.message());
    // The codec already queued its 4xx; close once it is written.
    CloseConnection(network::Connection::CloseType::kFlushWrite);
    return;
  }
  if (end_stream && !closed_) {
    codec_->OnEof();
    if (streams_.empty()) {
      CloseConnection(network::Connection::CloseType::kFlushWrite);
      return;
    }
    // The client went away mid-exchange. Like Envoy (and nginx without
    // proxy_ignore_client_abort), an HTTP/1 downstream's end of input ends its streams: the
    // upstream request is reset and the access log says DC.
    peer_closed_ = true;
    CloseConnection(network::Connection::CloseType::kNoFlush);
  }
}

bool HttpConnectionManager::CreateCodec(const network::Buffer& data) {
  using CodecType = listener::HttpConnectionManagerConfig::CodecType;
  CodecType type = runtime_->config->codec_type;
  if (type == CodecType::kAuto) {
    switch (http::SniffProtocol(data.view())) {
      case http::SniffResult::kNeedMoreData:
        return false;
      case http::SniffResult::kHttp2:
        type = CodecType::kHttp2;
        break;
      case http::SniffResult::kHttp1:
        type = CodecType::kHttp1;
        break;
    }
  }
  http2_ = type == CodecType::kHttp2;
  if (http2_) {
    codec_ = http::CreateHttp2ServerCodec(*connection_, *this, runtime_->limits, runtime_->http2);
    stats_.downstream_cx_http2_total.Inc();
    stats_.downstream_cx_http2_active.Inc();
  } else {
    codec_ = http::CreateHttp1ServerCodec(*connection_, *this, runtime_->limits);
    stats_.downstream_cx_http1_total.Inc();
    stats_.downstream_cx_http1_active.Inc();
  }
  return true;
}

http::StreamDecoder& HttpConnectionManager::NewStream(http::StreamEncoder& response_encoder) {
  if (request_headers_timer_) request_headers_timer_->Disable();
  saw_request_ = true;
  ++requests_;
  (http2_ ? stats_.downstream_rq_http2_total : stats_.downstream_rq_http1_total).Inc();
  auto& cfg = *runtime_->config;
  if (cfg.max_requests_per_connection && requests_ >= *cfg.max_requests_per_connection) {
    codec_->ShutdownNotice();
  }
  if (worker_.draining) codec_->ShutdownNotice();
  streams_.push_back(std::make_unique<ActiveStream>(*this, response_encoder));
  return *streams_.back();
}

void HttpConnectionManager::OnProtocolError(uint32_t status, std::string_view details) {
  // A malformed request never becomes a stream, but operators must still see it: count it and
  // log it the way Envoy does (flag DPE, details "codec_error:...").
  access_log::StreamInfo info;
  info.start_time = worker_.dispatcher.SystemNow();
  info.start_monotonic = worker_.dispatcher.Now();
  info.protocol = http::ProtocolString(http2_ ? http::Protocol::kHttp2 : codec_->protocol());
  info.response_code = status;
  info.response_flags = access_log::kDownstreamProtocolError;
  info.response_code_details = "codec_error:" + std::string(details);
  info.downstream_local_address = connection_->local_address_string();
  info.downstream_remote_address = connection_->remote_address_string();
  info.downstream_direct_remote_address = info.downstream_remote_address;
  info.request_complete = std::chrono::nanoseconds(0);
  stats_.downstream_rq_total.Inc();
  stats_.downstream_rq_completed.Inc();
  stats_.RecordResponseCode(status);
  worker_.access_logs.Write(runtime_->access_logs, info);
}

void HttpConnectionManager::OnStreamDone(ActiveStream& stream) {
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (it->get() == &stream) {
      // Deferred: the stream is still on the call stack.
      worker_.dispatcher.DeferredDelete(event::DeferLater(std::move(*it)));
      streams_.erase(it);
      break;
    }
  }
  if (closed_) return;
  // HTTP/1: a response with "connection: close" ends the connection. HTTP/2 closes itself once
  // its final GOAWAY is out and its last stream written (the codec may still hold response
  // bytes waiting for the client's flow-control window).
  if (!http2_ && !codec_->WantsMoreStreams()) {
    if (worker_.draining) stats_.downstream_cx_drain_close.Inc();
    CloseConnection(network::Connection::CloseType::kFlushWrite);
    return;
  }
  if (streams_.empty()) idle_timer_->Touch();
}

void HttpConnectionManager::StartDrain() {
  if (codec_) codec_->ShutdownNotice();
  // HTTP/2 keeps an idle connection until its final GOAWAY (the codec closes it then): a
  // request may already be on its way.
  if (streams_.empty() && !http2_) CloseConnection(network::Connection::CloseType::kFlushWrite);
}

void HttpConnectionManager::DrainAfterNextResponse() {
  if (codec_) codec_->ShutdownNotice();
  if (stale_chain_timer_) return;
  stale_chain_timer_ = worker_.dispatcher.CreateTimer([this] { StartDrain(); });
  stale_chain_timer_->Enable(runtime_->config->drain_timeout);
}

void HttpConnectionManager::CloseConnection(network::Connection::CloseType type) {
  if (closed_) return;
  connection_->Close(type);
}

void HttpConnectionManager::OnEvent(network::ConnectionEvent event) {
  if (event == network::ConnectionEvent::kConnected) return;
  if (closed_) return;
  closed_ = true;
  idle_timer_->Stop();
  if (request_headers_timer_) request_headers_timer_->Disable();
  if (stale_chain_timer_) stale_chain_timer_->Disable();
  if (event == network::ConnectionEvent::kRemoteClose || peer_closed_) {
    stats_.downstream_cx_destroy_remote.Inc();
  } else {
    stats_.downstream_cx_destroy_local.Inc();
  }
  stats_.downstream_cx_destroy.Inc();
  stats_.downstream_cx_active.Dec();
  if (codec_)
    (http2_ ? stats_.downstream_cx_http2_active : stats_.downstream_cx_http1_active).Dec();
  stats_.downstream_cx_tx_bytes_total.Inc(connection_->bytes_written());
  stats_.downstream_cx_length_ms.Record(
      std::chrono::duration<double, std::milli>(worker_.dispatcher.Now() - start_).count());
  // Streams still open lost their client.
  std::string reason = connection_->close_reason().empty() ? "downstream_remote_disconnect"
                                                           : connection_->close_reason();
  // HTTP/2 resets its streams itself (each reports back through OnResetStream).
  if (http2_) codec_->OnClose(http::StreamResetReason::kConnectionTermination, reason);
  while (!streams_.empty()) {
    ActiveStream& s = *streams_.front();
    s.OnResetStream(http::StreamResetReason::kConnectionTermination, reason);
    // OnResetStream -> OnStreamDone removed it; guard against a stream that did not.
    if (!streams_.empty() && streams_.front().get() == &s) streams_.erase(streams_.begin());
  }
  if (on_closed_) on_closed_(this);
}

void HttpConnectionManager::OnAboveWriteHighWatermark() {
  // HTTP/2: the codec stops writing and its streams' own watermarks take over.
  if (http2_) return codec_->OnAboveWriteBufferHighWatermark();
  for (auto& s : streams_) s->OnAboveWriteBufferHighWatermark();
}

void HttpConnectionManager::OnBelowWriteLowWatermark() {
  if (http2_) return codec_->OnBelowWriteBufferLowWatermark();
  for (auto& s : streams_) s->OnBelowWriteBufferLowWatermark();
}

}  // namespace weft::proxy
