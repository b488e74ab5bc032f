#include "proxy/http/upstream_request.h"

namespace weft::proxy {

UpstreamRequest::UpstreamRequest(UpstreamRequestCallbacks& callbacks,
                                 cluster::ThreadLocalCluster& cluster, int host_index,
                                 cluster::HttpConnPool& pool)
    : callbacks_(callbacks), cluster_(cluster), host_index_(host_index), pool_(pool) {}

UpstreamRequest::~UpstreamRequest() {
  if (pending_) pending_->Cancel();
  if (encoder_) encoder_->SetCallbacks(nullptr);
  Done();
}

void UpstreamRequest::Done() {
  if (done_) return;
  done_ = true;
  if (counted_request_) cluster_.config().resources->requests.Dec();
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
  start_ = callbacks_.dispatcher().Now();
  cluster_.stats().upstream_rq_total.Inc();
  cluster_.stats().upstream_rq_active.Inc();
  pool_.host_stats().rq_total.Inc();
  pool_.host_stats().rq_active.Inc();
  if (host_index_ >= 0 && cluster_.load_balancer())
    cluster_.load_balancer()->OnRequestStart(host_index_);
  callbacks_.info().upstream_host = pool_.host().address_string;
  // Circuit breaker: the cluster's max_requests across all workers.
  upstream::ResourceManager& resources = *cluster_.config().resources;
  if (!resources.requests.CanCreate()) {
    cluster_.stats().upstream_rq_pending_overflow.Inc();
    OnPoolFailure(cluster::PoolFailureReason::kOverflow, "");
    return;
  }
  resources.requests.Inc();
  counted_request_ = true;
  // May call OnPoolReady / OnPoolFailure before returning.
  pending_ = pool_.NewStream(*this, *this);
}

void UpstreamRequest::OnPoolReady(http::StreamEncoder& encoder,
                                  const network::Connection& connection) {
  pending_ = nullptr;
  encoder_ = &encoder;
  encoder_->SetCallbacks(this);
  callbacks_.info().upstream_local_address = connection.local_address_string();
  // The pool hands over connections whose TLS handshake is done.
  callbacks_.info().SetUpstreamSecurity(connection.shared_security_info());
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
  Done();
  if (reason == cluster::PoolFailureReason::kOverflow) {
    callbacks_.OnUpstreamFailure(*this, router::AttemptFailure::kOverflow, details);
    return;
  }
  callbacks_.info().upstream_transport_failure_reason = std::string(details);
  callbacks_.OnUpstreamFailure(*this, router::AttemptFailure::kConnectFailure, details);
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
  OnPerTryTimeout();
}

void UpstreamRequest::OnPerTryTimeout() {
  // A timeout is a failure of the host for outlier detection, whichever timer saw it.
  cluster_.ReportHostResult(pool_, {health::HostResult::Kind::kTimeout, 0});
  Reset();
}

void UpstreamRequest::ReadDisable(bool disable) {
  read_disabled_ += disable ? 1 : -1;
  if (encoder_) encoder_->ReadDisable(disable);
}

void UpstreamRequest::Decode1xxHeaders(std::unique_ptr<http::HeaderMap> headers) {
  callbacks_.OnUpstream1xxHeaders(std::move(headers));
}

void UpstreamRequest::DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  response_started_ = true;
  access_log::StreamInfo& info = callbacks_.info();
  const auto now = callbacks_.dispatcher().Now();
  auto elapsed = now - start_;
  if (host_index_ >= 0 && cluster_.load_balancer())
    cluster_.load_balancer()->OnResponseLatency(host_index_, elapsed);
  info.upstream_service_time = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  info.first_upstream_rx_byte_received = now - info.start_monotonic;
  uint32_t code = 0;
  for (char c : headers->Status()) code = code * 10 + static_cast<uint32_t>(c - '0');
  cluster_.stats().RecordResponseCode(code);
  // Envoy counts a host's 5xx as rq_error and everything else as rq_success.
  (code >= 500 ? pool_.host_stats().rq_error : pool_.host_stats().rq_success).Inc();
  cluster_.ReportHostResult(pool_, {health::HostResult::Kind::kHttpStatus, code});
  cluster_.stats().upstream_rq_time.Record(
      std::chrono::duration<double, std::milli>(elapsed).count());
  if (end_stream) {
    response_complete_ = true;
    encoder_ = nullptr;  // the codec is done with this stream
    Done();
  }
  callbacks_.OnUpstreamHeaders(*this, std::move(headers), end_stream);
}

void UpstreamRequest::DecodeData(network::Buffer& data, bool end_stream) {
  if (end_stream) {
    response_complete_ = true;
    encoder_ = nullptr;
    Done();
  }
  callbacks_.OnUpstreamData(data, end_stream);
}

void UpstreamRequest::DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) {
  response_complete_ = true;
  encoder_ = nullptr;
  Done();
  callbacks_.OnUpstreamTrailers(std::move(trailers));
}

void UpstreamRequest::OnResetStream(http::StreamResetReason reason, std::string_view details) {
  encoder_ = nullptr;
  cluster_.stats().upstream_rq_rx_reset.Inc();
  if (!response_started_ && reason != http::StreamResetReason::kConnectionFailure)
    cluster_.ReportHostResult(pool_, {health::HostResult::Kind::kReset, 0});
  Done();
  if (response_started_) {
    callbacks_.OnUpstreamResetAfterHeaders(details);
    return;
  }
  if (reason == http::StreamResetReason::kConnectionFailure) {
    callbacks_.info().upstream_transport_failure_reason = std::string(details);
    callbacks_.OnUpstreamFailure(*this, router::AttemptFailure::kConnectFailure, details);
    return;
  }
  router::AttemptFailure failure = router::AttemptFailure::kConnectionTermination;
  if (reason == http::StreamResetReason::kProtocolError) {
    failure = router::AttemptFailure::kProtocolError;
  } else if (reason == http::StreamResetReason::kRemoteReset) {
    failure = router::AttemptFailure::kRemoteReset;
  } else if (reason == http::StreamResetReason::kRemoteRefusedStreamReset) {
    failure = router::AttemptFailure::kRefusedStream;  // HTTP/2 REFUSED_STREAM
  }
  callbacks_.OnUpstreamFailure(*this, failure, details);
}

void UpstreamRequest::OnAboveWriteBufferHighWatermark() {
  callbacks_.OnUpstreamAboveWriteBufferHighWatermark();
}
void UpstreamRequest::OnBelowWriteBufferLowWatermark() {
  callbacks_.OnUpstreamBelowWriteBufferLowWatermark();
}

}  // namespace weft::proxy
