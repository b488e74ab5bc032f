#include "proxy/http/upstream_request.h"

#include "absl/strings/str_cat.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/connection_manager.h"

namespace weft::proxy {

UpstreamRequest::UpstreamRequest(ActiveStream& stream, cluster::ThreadLocalCluster& cluster,
                                 int host_index, cluster::HttpConnPool& pool)
    : stream_(stream), cluster_(cluster), host_index_(host_index), pool_(pool) {}

UpstreamRequest::~UpstreamRequest() {
  if (pending_) pending_->Cancel();
  if (encoder_) encoder_->SetCallbacks(nullptr);
  Done();
}

void UpstreamRequest::Done() {
  if (done_) return;
  done_ = true;
  cluster_.stats().upstream_rq_active.Dec();
  pool_.host_stats().rq_active.Dec();
  // A request that ended without a response (reset, timeout, connect failure) is an error.
  if (!response_started_) pool_.host_stats().rq_error.Inc();
  if (host_index_ >= 0 && cluster_.load_balancer())
    cluster_.load_balancer()->OnRequestEnd(host_index_);
}

void UpstreamRequest::Start(http::HeaderMap& headers, bool end_stream) {
  headers_ = &headers;
  headers_end_stream_ = end_stream;
  start_ = stream_.dispatcher().Now();
  cluster_.stats().upstream_rq_total.Inc();
  cluster_.stats().upstream_rq_active.Inc();
  pool_.host_stats().rq_total.Inc();
  pool_.host_stats().rq_active.Inc();
  if (host_index_ >= 0 && cluster_.load_balancer())
    cluster_.load_balancer()->OnRequestStart(host_index_);
  stream_.info().upstream_host = pool_.host().address_string;
  // May call OnPoolReady / OnPoolFailure before returning.
  pending_ = pool_.NewStream(*this, *this);
}

void UpstreamRequest::OnPoolReady(http::StreamEncoder& encoder,
                                  const network::Connection& connection) {
  pending_ = nullptr;
  encoder_ = &encoder;
  encoder_->SetCallbacks(this);
  stream_.info().upstream_local_address = connection.local_address_string();
  bool end = headers_end_stream_;
  encoder_->EncodeHeaders(*headers_, end);
  if (encoder_ == nullptr) return;  // reset synchronously
  if (read_disabled_ > 0) encoder_->ReadDisable(true);
  if (buffered_.length() > 0 || buffered_end_stream_) {
    bool end_stream = buffered_end_stream_ && !buffered_trailers_;
    encoder_->EncodeData(buffered_, end_stream);
  }
  if (encoder_ && buffered_trailers_) encoder_->EncodeTrailers(*buffered_trailers_);
}

void UpstreamRequest::OnPoolFailure(cluster::PoolFailureReason reason, std::string_view details) {
  pending_ = nullptr;
  if (reason == cluster::PoolFailureReason::kOverflow) {
    stream_.OnUpstreamFailure(
        503, access_log::kUpstreamOverflow, "upstream_reset_before_response_started{overflow}",
        "upstream connect error or disconnect/reset before headers. reset reason: overflow");
    return;
  }
  stream_.info().upstream_transport_failure_reason = std::string(details);
  // Envoy's words, so scripts that grep for them keep working.
  stream_.OnUpstreamFailure(
      503, access_log::kUpstreamConnectionFailure,
      "upstream_reset_before_response_started{connection_failure}",
      absl::StrCat("upstream connect error or disconnect/reset before headers. reset reason: "
                   "connection failure",
                   details.empty() ? "" : ", transport failure reason: ", std::string(details)));
}

void UpstreamRequest::SendData(network::Buffer& data, bool end_stream) {
  if (encoder_) {
    encoder_->EncodeData(data, end_stream);
    return;
  }
  buffered_.Move(data);
  buffered_end_stream_ = end_stream;
}

void UpstreamRequest::SendTrailers(const http::HeaderMap& trailers) {
  if (encoder_) {
    encoder_->EncodeTrailers(trailers);
    return;
  }
  buffered_trailers_ = std::make_unique<http::HeaderMap>(trailers);
  buffered_end_stream_ = true;
}

void UpstreamRequest::Reset() {
  if (pending_) {
    pending_->Cancel();
    pending_ = nullptr;
  }
  if (encoder_) {
    http::StreamEncoder* encoder = encoder_;
    encoder_ = nullptr;
    encoder->SetCallbacks(nullptr);
    cluster_.stats().upstream_rq_tx_reset.Inc();
    encoder->ResetStream(http::StreamResetReason::kLocalReset);
  }
  Done();
}

void UpstreamRequest::OnTimeout() {
  cluster_.stats().upstream_rq_timeout.Inc();
  pool_.host_stats().rq_timeout.Inc();
  Reset();
}

void UpstreamRequest::ReadDisable(bool disable) {
  read_disabled_ += disable ? 1 : -1;
  if (encoder_) encoder_->ReadDisable(disable);
}

void UpstreamRequest::Decode1xxHeaders(std::unique_ptr<http::HeaderMap> headers) {
  stream_.OnUpstream1xxHeaders(std::move(headers));
}

void UpstreamRequest::DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  response_started_ = true;
  auto elapsed = stream_.dispatcher().Now() - start_;
  stream_.info().upstream_service_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  stream_.info().first_upstream_rx_byte_received =
      stream_.dispatcher().Now() - stream_.info().start_monotonic;
  uint32_t code = 0;
  for (char c : headers->Status()) code = code * 10 + static_cast<uint32_t>(c - '0');
  cluster_.stats().RecordResponseCode(code);
  // Envoy counts a host's 5xx as rq_error and everything else as rq_success.
  (code >= 500 ? pool_.host_stats().rq_error : pool_.host_stats().rq_success).Inc();
  cluster_.stats().upstream_rq_time.Record(
      std::chrono::duration<double, std::milli>(elapsed).count());
  if (end_stream) {
    response_complete_ = true;
    encoder_ = nullptr;  // the codec is done with this stream
    Done();
  }
  stream_.OnUpstreamHeaders(std::move(headers), end_stream);
}

void UpstreamRequest::DecodeData(network::Buffer& data, bool end_stream) {
  if (end_stream) {
    response_complete_ = true;
    encoder_ = nullptr;
    Done();
  }
  stream_.OnUpstreamData(data, end_stream);
}

void UpstreamRequest::DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) {
  response_complete_ = true;
  encoder_ = nullptr;
  Done();
  stream_.OnUpstreamTrailers(std::move(trailers));
}

void UpstreamRequest::OnResetStream(http::StreamResetReason reason, std::string_view details) {
  encoder_ = nullptr;
  cluster_.stats().upstream_rq_rx_reset.Inc();
  Done();
  if (response_started_) {
    stream_.OnUpstreamResetAfterHeaders(details);
    return;
  }
  if (reason == http::StreamResetReason::kConnectionFailure) {
    OnPoolFailure(cluster::PoolFailureReason::kConnectionFailure, details);
    return;
  }
  if (reason == http::StreamResetReason::kRemoteReset ||
      reason == http::StreamResetReason::kRemoteRefusedStreamReset) {
    // The upstream reset this stream (HTTP/2 RST_STREAM): 503 UR, in Envoy's words.
    bool refused = reason == http::StreamResetReason::kRemoteRefusedStreamReset;
    stream_.OnUpstreamFailure(
        503, access_log::kUpstreamRemoteReset,
        refused ? "upstream_reset_before_response_started{remote_refused_stream_reset}"
                : "upstream_reset_before_response_started{remote_reset}",
        refused ? "upstream connect error or disconnect/reset before headers. reset reason: "
                  "remote refused stream reset"
                : "upstream connect error or disconnect/reset before headers. reset reason: "
                  "remote reset");
    return;
  }
  const char* why = reason == http::StreamResetReason::kProtocolError ? "protocol error"
                                                                      : "connection termination";
  stream_.OnUpstreamFailure(
      reason == http::StreamResetReason::kProtocolError ? 502 : 503,
      reason == http::StreamResetReason::kProtocolError
          ? access_log::kUpstreamProtocolError
          : access_log::kUpstreamConnectionTermination,
      absl::StrCat("upstream_reset_before_response_started{",
                   reason == http::StreamResetReason::kProtocolError ? "protocol_error"
                                                                     : "connection_termination",
                   "}"),
      absl::StrCat("upstream connect error or disconnect/reset before headers. reset reason: ",
                   why));
}

void UpstreamRequest::OnAboveWriteBufferHighWatermark() {
  stream_.OnUpstreamAboveWriteBufferHighWatermark();
}
void UpstreamRequest::OnBelowWriteBufferLowWatermark() {
  stream_.OnUpstreamBelowWriteBufferLowWatermark();
}

}  // namespace weft::proxy
