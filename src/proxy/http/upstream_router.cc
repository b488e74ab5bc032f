#include "proxy/http/upstream_router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proxy/http/active_stream.h"
#include "proxy/http/connection_manager.h"
#include "proxy/router/route_actions.h"

namespace weft::proxy {

namespace {

// What the client is told when no attempt produced a response; Envoy's words, so scripts that
// grep for them keep working.
struct FailureReply {
  uint32_t status;
  uint64_t flag;
  const char* reason;  // for the details and the body
};

FailureReply ReplyFor(router::AttemptFailure failure) {
  using F = router::AttemptFailure;
  switch (failure) {
    case F::kConnectFailure:
      return {503, access_log::kUpstreamConnectionFailure, "connection_failure"};
    case F::kConnectionTermination:
      return {503, access_log::kUpstreamConnectionTermination, "connection_termination"};
    case F::kRemoteReset:
      return {503, access_log::kUpstreamRemoteReset, "remote_reset"};
    case F::kRefusedStream:
      return {503, access_log::kUpstreamRemoteReset, "remote_refused_stream_reset"};
    case F::kProtocolError:
      return {502, access_log::kUpstreamProtocolError, "protocol_error"};
    case F::kPerTryTimeout:
      return {504, access_log::kUpstreamRequestTimeout, "per_try_timeout"};
    case F::kOverflow:
      return {503, access_log::kUpstreamOverflow, "overflow"};
  }
  return {503, 0, "unknown"};
}

// Envoy's wording of reset reasons in the local reply body.
std::string_view ReasonWords(router::AttemptFailure failure) {
  using F = router::AttemptFailure;
  switch (failure) {
    case F::kConnectFailure:
      return "connection failure";
    case F::kConnectionTermination:
      return "connection termination";
    case F::kRemoteReset:
      return "remote reset";
    case F::kRefusedStream:
      return "remote refused stream reset";
    case F::kProtocolError:
      return "protocol error";
    case F::kOverflow:
      return "overflow";
    case F::kPerTryTimeout:
      return "per try timeout";
  }
  return "unknown";
}

}  // namespace

UpstreamRouter::UpstreamRouter(ActiveStream& stream, cluster::ThreadLocalCluster& cluster,
                               const router::RouteEntry& route, upstream::LbContext lb_context)
    : stream_(stream),
      cluster_(cluster),
      action_(*route.action()),
      virtual_host_(*route.virtual_host->config),
      lb_context_(lb_context) {
  if (action_.retry_policy && action_.retry_policy->num_retries > 0 &&
      router::RequestIsRetriable(*action_.retry_policy, stream_.request_headers())) {
    retry_policy_ = &*action_.retry_policy;
  }
  buffering_request_ = retry_policy_ != nullptr || !action_.request_mirror_policies.empty();
}

UpstreamRouter::~UpstreamRouter() { Reset(); }

event::Dispatcher& UpstreamRouter::dispatcher() { return stream_.dispatcher(); }
access_log::StreamInfo& UpstreamRouter::info() { return stream_.info(); }

void UpstreamRouter::Start(http::HeaderMap& headers, bool end_stream) {
  headers_ = &headers;
  request_complete_ = end_stream;
  if (!StartAttempt()) return;
  if (request_complete_) {
    ArmPerTryTimer();
    StartShadows();
  }
}

bool UpstreamRouter::StartAttempt() {
  cluster::HttpConnPool* pool = nullptr;
  int host = -1;
  if (cluster_.config().type == upstream::DiscoveryType::kOriginalDst) {
    network::Address dst = stream_.hcm().connection().local_address();
    pool = &cluster_.PoolForAddress(dst.sa(), dst.len, stream_.downstream_protocol());
  } else {
    host = cluster_.ChooseHost(lb_context_);
    // retry_host_predicate previous_hosts: pick again (up to host_selection_retry_max_attempts
    // times) while the pick is a host an earlier attempt used.
    if (host >= 0 && retry_policy_ && retry_policy_->previous_hosts && !attempted_hosts_.empty()) {
      for (uint32_t i = 0; i < retry_policy_->host_selection_retry_max_attempts; ++i) {
        const std::string& address = cluster_.host(host).address_string;
        if (std::find(attempted_hosts_.begin(), attempted_hosts_.end(), address) ==
            attempted_hosts_.end()) {
          break;
        }
        int other = cluster_.ChooseHost(lb_context_);
        if (other < 0) break;
        host = other;
      }
    }
    if (host < 0) {
      cluster_.stats().upstream_cx_none_healthy.Inc();
      stream_.OnUpstreamFailure(503, access_log::kNoHealthyUpstream, "no_healthy_upstream",
                                "no healthy upstream");
      return false;
    }
    pool = &cluster_.PoolFor(host, stream_.downstream_protocol());
    const upstream::Host& chosen = cluster_.host(host);
    // Remembered only for the predicate that reads it: most routes have none.
    if (retry_policy_ && retry_policy_->previous_hosts) {
      attempted_hosts_.push_back(chosen.address_string);
    }
    if (action_.auto_host_rewrite && !chosen.hostname.empty()) {
      router::AutoRewriteHost(action_, chosen.hostname, *headers_);
    }
  }
  if (virtual_host_.include_request_attempt_count) {
    headers_->Set("x-envoy-attempt-count", std::to_string(retries_done_ + 1));
  }
  attempt_ = std::make_unique<UpstreamRequest>(*this, cluster_, host, *pool);
  UpstreamRequest* attempt = attempt_.get();
  const bool send_body = request_body_.length() > 0 || request_trailers_ != nullptr;
  attempt->Start(*headers_, request_complete_ && !send_body);
  if (attempt_.get() != attempt) return true;  // ended (or was retried) synchronously
  if (read_disabled_ > 0) attempt->ReadDisable(true);
  if (retries_done_ > 0 && send_body) {
    // A retry resends what the client has sent so far.
    network::Buffer copy;
    copy.Append(request_body_.view());
    attempt->SendData(copy, request_complete_ && request_trailers_ == nullptr);
    if (attempt_.get() == attempt && request_trailers_) attempt->SendTrailers(*request_trailers_);
  }
  return true;
}

void UpstreamRouter::SendData(network::Buffer& data, bool end_stream) {
  if (end_stream) request_complete_ = true;
  if (buffering_request_) {
    if (request_body_.length() + data.length() >
        cluster_.config().per_connection_buffer_limit_bytes) {
      AbandonBufferedRequest();
    } else {
      request_body_.Append(data.view());
    }
  }
  if (attempt_) {
    attempt_->SendData(data, end_stream);
  } else {
    data.Drain(data.length());  // between attempts: the copy above is resent by the retry
  }
  if (end_stream) {
    ArmPerTryTimer();
    StartShadows();
  }
}

void UpstreamRouter::SendTrailers(const http::HeaderMap& trailers) {
  request_complete_ = true;
  if (buffering_request_) request_trailers_ = std::make_unique<http::HeaderMap>(trailers);
  if (attempt_) attempt_->SendTrailers(trailers);
  ArmPerTryTimer();
  StartShadows();
}

void UpstreamRouter::AbandonBufferedRequest() {
  // Too big to keep a copy: this request gets neither retries nor mirrors.
  cluster_.stats().retry_or_shadow_abandoned.Inc();
  buffering_request_ = false;
  retry_policy_ = nullptr;
  request_body_.Clear();
}

void UpstreamRouter::StartShadows() {
  if (!buffering_request_ || action_.request_mirror_policies.empty()) return;
  WorkerContext& worker = stream_.hcm().worker();
  for (const router::RequestMirrorPolicy& mirror : action_.request_mirror_policies) {
    if (mirror.runtime_fraction && !mirror.runtime_fraction->Sample(worker.random.Next())) {
      continue;
    }
    cluster::ThreadLocalCluster* cluster = worker.clusters.Get(mirror.cluster);
    if (cluster == nullptr) continue;
    worker.shadows.Start(worker.dispatcher, *cluster, std::make_unique<http::HeaderMap>(*headers_),
                         &request_body_, request_trailers_.get(), action_.timeout,
                         !mirror.disable_shadow_host_suffix_append);
  }
  if (retry_policy_ == nullptr) {
    buffering_request_ = false;
    request_body_.Clear();
  }
}

void UpstreamRouter::ArmPerTryTimer() {
  if (!attempt_ || !retry_policy_ || retry_policy_->per_try_timeout.count() == 0) return;
  if (!per_try_timer_) per_try_timer_ = dispatcher().CreateTimer([this] { OnPerTryTimeout(); });
  per_try_timer_->Enable(retry_policy_->per_try_timeout);
}

void UpstreamRouter::OnPerTryTimeout() {
  if (!attempt_ || response_started_) return;
  cluster_.stats().upstream_rq_per_try_timeout.Inc();
  attempt_->OnPerTryTimeout();
  ReleaseAttempt(/*reset=*/false);
  if (MaybeScheduleRetry(
          router::ShouldRetryFailure(*retry_policy_, router::AttemptFailure::kPerTryTimeout))) {
    return;
  }
  stream_.OnUpstreamFailure(504, access_log::kUpstreamRequestTimeout, "upstream_per_try_timeout",
                            "upstream request timeout");
}

void UpstreamRouter::ReleaseAttempt(bool reset) {
  if (per_try_timer_) per_try_timer_->Disable();
  if (!attempt_) return;
  if (reset) attempt_->Reset();
  // We may be inside the attempt's own callback: destroy it once this event is over.
  dispatcher().DeferredDelete(std::move(attempt_));
}

bool UpstreamRouter::MaybeScheduleRetry(bool retriable) {
  if (retry_policy_ == nullptr || !retriable || response_started_) return false;
  if (retries_done_ >= retry_policy_->num_retries) {
    cluster_.stats().upstream_rq_retry_limit_exceeded.Inc();
    info().response_flags |= access_log::kUpstreamRetryLimitExceeded;
    return false;
  }
  upstream::ResourceManager& resources = *cluster_.config().resources;
  if (!resources.CanRetry()) {
    // Circuit breaker max_retries (or the retry budget): retries must not multiply an outage.
    cluster_.stats().upstream_rq_retry_overflow.Inc();
    return false;
  }
  ++retries_done_;
  if (!holding_retry_) {
    resources.retries.Inc();
    holding_retry_ = true;
  }
  cluster_.stats().upstream_rq_retry.Inc();
  cluster_.stats().upstream_rq_retry_backoff_exponential.Inc();
  if (!retry_timer_) retry_timer_ = dispatcher().CreateTimer([this] { OnRetryTimer(); });
  retry_timer_->Enable(
      router::RetryBackoff(*retry_policy_, retries_done_, stream_.hcm().worker().random.Next()));
  return true;
}

void UpstreamRouter::OnRetryTimer() {
  if (holding_retry_) {
    cluster_.config().resources->retries.Dec();
    holding_retry_ = false;
  }
  if (!StartAttempt()) return;
  if (request_complete_) ArmPerTryTimer();
}

void UpstreamRouter::Reset() {
  if (retry_timer_) retry_timer_->Disable();
  if (per_try_timer_) per_try_timer_->Disable();
  if (holding_retry_) {
    cluster_.config().resources->retries.Dec();
    holding_retry_ = false;
  }
  if (attempt_) {
    attempt_->Reset();
    dispatcher().DeferredDelete(std::move(attempt_));
  }
}

void UpstreamRouter::OnGlobalTimeout() {
  if (retry_timer_) retry_timer_->Disable();
  if (attempt_) {
    attempt_->OnTimeout();
    ReleaseAttempt(/*reset=*/false);
  }
}

void UpstreamRouter::ReadDisable(bool disable) {
  read_disabled_ += disable ? 1 : -1;
  if (attempt_) attempt_->ReadDisable(disable);
}

void UpstreamRouter::OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap> headers) {
  stream_.OnUpstream1xxHeaders(std::move(headers));
}

void UpstreamRouter::OnUpstreamHeaders(UpstreamRequest& /*request*/,
                                       std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  if (retry_policy_ && router::ShouldRetryResponse(*retry_policy_, *headers)) {
    // Abandon this response (resetting the stream if it has more to come) and try again.
    if (MaybeScheduleRetry(true)) {
      ReleaseAttempt(/*reset=*/!end_stream);
      return;
    }
  } else if (retries_done_ > 0) {
    cluster_.stats().upstream_rq_retry_success.Inc();
  }
  response_started_ = true;
  if (per_try_timer_) per_try_timer_->Disable();
  if (virtual_host_.include_attempt_count_in_response) {
    headers->Set("x-envoy-attempt-count", std::to_string(retries_done_ + 1));
  }
  if (end_stream) ReleaseAttempt(/*reset=*/false);
  stream_.OnUpstreamHeaders(std::move(headers), end_stream);
}

void UpstreamRouter::OnUpstreamData(network::Buffer& data, bool end_stream) {
  if (end_stream) ReleaseAttempt(/*reset=*/false);
  stream_.OnUpstreamData(data, end_stream);
}

void UpstreamRouter::OnUpstreamTrailers(std::unique_ptr<http::HeaderMap> trailers) {
  ReleaseAttempt(/*reset=*/false);
  stream_.OnUpstreamTrailers(std::move(trailers));
}

void UpstreamRouter::OnUpstreamFailure(UpstreamRequest& /*request*/, router::AttemptFailure failure,
                                       std::string_view details) {
  ReleaseAttempt(/*reset=*/false);
  if (retry_policy_ && MaybeScheduleRetry(router::ShouldRetryFailure(*retry_policy_, failure))) {
    return;
  }
  FailStream(failure, details);
}

void UpstreamRouter::FailStream(router::AttemptFailure failure, std::string_view details) {
  const FailureReply reply = ReplyFor(failure);
  std::string body =
      absl::StrCat("upstream connect error or disconnect/reset before headers. reset reason: ",
                   std::string(ReasonWords(failure)));
  if (failure == router::AttemptFailure::kConnectFailure && !details.empty()) {
    absl::StrAppend(&body, ", transport failure reason: ", std::string(details));
  }
  stream_.OnUpstreamFailure(
      reply.status, reply.flag,
      absl::StrCat("upstream_reset_before_response_started{", reply.reason, "}"), body);
}

void UpstreamRouter::OnUpstreamResetAfterHeaders(std::string_view details) {
  ReleaseAttempt(/*reset=*/false);
  stream_.OnUpstreamResetAfterHeaders(details);
}

void UpstreamRouter::OnUpstreamAboveWriteBufferHighWatermark() {
  stream_.OnUpstreamAboveWriteBufferHighWatermark();
}
void UpstreamRouter::OnUpstreamBelowWriteBufferLowWatermark() {
  stream_.OnUpstreamBelowWriteBufferLowWatermark();
}

}  // namespace weft::proxy
