// One request/response exchange on a downstream connection: decodes the request from the
// downstream codec, routes it, answers locally or forwards it upstream (UpstreamRequest), and
// encodes the response back. Records what happened in a StreamInfo for stats and access logs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "event/dispatcher.h"
#include "event/idle_timer.h"
#include "network/buffer.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/codec/codec.h"
#include "proxy/router/router.h"

namespace weft::proxy {

class HttpConnectionManager;
class UpstreamRequest;

class ActiveStream : public http::StreamDecoder, public http::StreamCallbacks {
 public:
  ActiveStream(HttpConnectionManager& hcm, http::StreamEncoder& response_encoder);
  ~ActiveStream() override;

  // http::StreamDecoder: the request from downstream.
  void DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) override;
  void DecodeData(network::Buffer& data, bool end_stream) override;
  void DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) override;

  // http::StreamCallbacks: the downstream side of this stream went away or backs up.
  void OnResetStream(http::StreamResetReason reason, std::string_view details) override;
  void OnAboveWriteBufferHighWatermark() override;
  void OnBelowWriteBufferLowWatermark() override;

  // Called by UpstreamRequest with the upstream's response.
  void OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap> headers);
  void OnUpstreamHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream);
  void OnUpstreamData(network::Buffer& data, bool end_stream);
  void OnUpstreamTrailers(std::unique_ptr<http::HeaderMap> trailers);
  // The upstream failed before a response could be sent on: answer locally.
  void OnUpstreamFailure(uint32_t status, uint64_t response_flag, std::string_view details,
                         std::string_view body);
  // The upstream failed after the response started: reset the downstream stream.
  void OnUpstreamResetAfterHeaders(std::string_view details);
  void OnUpstreamAboveWriteBufferHighWatermark();
  void OnUpstreamBelowWriteBufferLowWatermark();

  access_log::StreamInfo& info() { return info_; }
  HttpConnectionManager& hcm() { return hcm_; }
  event::Dispatcher& dispatcher();
  const http::HeaderMap& request_headers() const { return *request_headers_; }
  bool complete() const { return response_complete_ && request_complete_; }

 private:
  void RouteRequest();
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details,
                      uint64_t response_flag);
  void EncodeResponseHeaders(http::HeaderMap& headers, bool end_stream);
  void MaybeFinish();
  void Finish();
  void OnStreamTimeout();
  void OnIdleTimeout();
  void StartIdleTimer(std::chrono::milliseconds timeout);
  void ResetIdleTimer();
  void ApplyRequestHeaderMutations();
  void WriteAccessLogs();
  std::string GenerateRequestId();

  HttpConnectionManager& hcm_;
  http::StreamEncoder& encoder_;
  std::unique_ptr<http::HeaderMap> request_headers_;
  std::unique_ptr<http::HeaderMap> request_trailers_;
  std::unique_ptr<http::HeaderMap> response_headers_;
  std::unique_ptr<http::HeaderMap> response_trailers_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<event::Timer> request_timer_;  // route timeout / request_timeout
  std::optional<event::IdleTimer> idle_timer_;   // stream_idle_timeout, or the route's
  const router::RouteEntry* route_ = nullptr;
  int weighted_cluster_ = -1;
  access_log::StreamInfo info_;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool finished_ = false;
  bool reset_ = false;
  bool is_head_request_ = false;
  bool is_upgrade_ = false;
  bool local_reply_ = false;
};

}  // namespace weft::proxy
