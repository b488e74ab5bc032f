// One request/response exchange on a downstream connection: decodes the request from the
// downstream codec, picks its route, runs the HTTP filters (fault, local rate limit, ...), then
// answers locally or forwards it upstream (UpstreamRouter: attempts, retries, mirrors), and
// encodes the response back. Records what happened in a StreamInfo for stats and access logs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/thread_free_list.h"
#include "event/dispatcher.h"
#include "event/idle_timer.h"
#include "network/buffer.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/codec/codec.h"
#include "proxy/filters/filter.h"
#include "proxy/router/router.h"

namespace weft::proxy {

class HttpConnectionManager;
class UpstreamRouter;

// DeferredDeletable: it is deleted once the event that finished it has unwound.
class ActiveStream : public ThreadFreeList<ActiveStream>,
                     public event::DeferredDeletable,
                     public http::StreamDecoder,
                     public http::StreamCallbacks,
                     public filters::FilterCallbacks {
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

  // filters::FilterCallbacks
  event::Dispatcher& dispatcher() override;
  Random& random() override;
  stats::Store& stats() override;
  const std::string& stat_prefix() override;
  access_log::StreamInfo& info() override { return info_; }
  const router::RouteFilterConfig* PerRouteConfig(std::string_view filter_name) override;
  const router::RouteEntry* route() override { return route_; }
  void ContinueDecoding() override;
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details,
                      uint64_t response_flag, std::optional<uint32_t> grpc_status) override;
  void FetchFromCluster(std::string_view cluster, std::unique_ptr<http::HeaderMap> request,
                        std::chrono::milliseconds timeout,
                        std::function<void(std::optional<std::string>)> done) override;

  // Called by the UpstreamRouter with the upstream's response.
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

  HttpConnectionManager& hcm() { return hcm_; }
  // The client's protocol (a cluster with use_downstream_protocol_config speaks it upstream).
  http::Protocol downstream_protocol() const { return encoder_.protocol(); }
  const http::HeaderMap& request_headers() const { return *request_headers_; }
  bool complete() const { return response_complete_ && request_complete_; }

 private:
  // Runs the decoder filters from `next_filter_`; then, if none held or answered, the router.
  void RunDecoderFilters();
  void RouteRequest();
  // Picks the route's cluster (weighted clusters, cluster_header) into info_.upstream_cluster.
  void PickCluster();
  void ArmStreamDurationTimer();
  void OnMaxDurationReached();
  // Hands the router to deferred deletion (it may be the caller).
  void ReleaseUpstream();
  void SendGrpcLocalReply(uint32_t status, std::string_view body,
                          std::optional<uint32_t> grpc_status);
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details,
                      uint64_t response_flag) {
    SendLocalReply(status, body, details, response_flag, std::nullopt);
  }
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
  // The route table this stream routes by, chosen when its headers arrive: an RDS update swaps
  // the HCM's table for later streams only. Declared before everything that points into it
  // (route_, the router, the filters' per-route configs), so it outlives them.
  std::shared_ptr<const router::RouteTable> routes_pin_;  // set for rds tables only
  const router::RouteTable* routes_ = nullptr;
  std::unique_ptr<http::HeaderMap> request_headers_;
  std::unique_ptr<http::HeaderMap> request_trailers_;
  std::unique_ptr<http::HeaderMap> response_headers_;
  std::unique_ptr<http::HeaderMap> response_trailers_;
  std::unique_ptr<UpstreamRouter> upstream_;
  std::vector<std::unique_ptr<filters::StreamFilter>> filters_;
  size_t next_filter_ = 0;
  // Request body that arrived while a filter held the request; sent on when it continues.
  network::Buffer held_body_;
  bool decoding_held_ = false;
  bool hold_read_disabled_ = false;  // held_body_ grew past the limit: the client waits
  bool headers_end_stream_ = false;  // the request had no body
  bool routed_ = false;              // the router has the request (or answered it)
  // Embedded, created on first use: most routes have a timeout, and a heap timer per request
  // was one more allocation on every request.
  std::optional<event::Timer> request_timer_;       // route timeout / request_timeout
  std::optional<event::Timer> max_duration_timer_;  // max_stream_duration / grpc-timeout
  std::optional<event::IdleTimer> idle_timer_;      // stream_idle_timeout, or the route's
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
  bool is_grpc_ = false;
  bool grpc_deadline_ = false;  // max_duration_timer_ comes from the request's grpc-timeout
};

}  // namespace weft::proxy
