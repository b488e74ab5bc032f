// The router's half of a stream: sends the request to the route's cluster and brings back one
// response. It owns the attempts (UpstreamRequest) and decides, per the route's RetryPolicy,
// whether a failed attempt is retried: on which host (previous_hosts), after what back-off, and
// whether the cluster's circuit breakers (max_retries, or the retry budget) allow it. It also
// starts the route's request mirrors (ShadowRequest) once the request is complete.
//
// The request body is copied while a retry or a mirror may still need it, up to the cluster's
// per_connection_buffer_limit_bytes; past that, retries and mirrors are given up for the request
// (counted as retry_or_shadow_abandoned), as Envoy does.
//
// Not thread-safe: lives on the stream's worker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/thread_free_list.h"
#include "event/dispatcher.h"
#include "network/buffer.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/http/upstream_request.h"
#include "proxy/router/route_config.h"
#include "proxy/router/router.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::proxy {

class ActiveStream;

// DeferredDeletable: the stream releases it from inside its callbacks.
class UpstreamRouter : public ThreadFreeList<UpstreamRouter>,
                       public event::DeferredDeletable,
                       public UpstreamRequestCallbacks {
 public:
  UpstreamRouter(ActiveStream& stream, cluster::ThreadLocalCluster& cluster,
                 const router::RouteEntry& route, upstream::LbContext lb_context);
  ~UpstreamRouter() override;

  // Sends `headers` (edited for the upstream; owned by the stream) on a first attempt. May end
  // the stream with a local reply (no healthy host, overflow) before returning.
  void Start(http::HeaderMap& headers, bool end_stream);
  void SendData(network::Buffer& data, bool end_stream);
  void SendTrailers(const http::HeaderMap& trailers);
  // Abandons everything in flight (the downstream went away or the stream ended).
  void Reset();
  // The route's global timeout fired before a response: the attempt is counted as timed out.
  void OnGlobalTimeout();
  void ReadDisable(bool disable);

  // UpstreamRequestCallbacks
  event::Dispatcher& dispatcher() override;
  access_log::StreamInfo& info() override;
  void OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap> headers) override;
  void OnUpstreamHeaders(UpstreamRequest& request, std::unique_ptr<http::HeaderMap> headers,
                         bool end_stream) override;
  void OnUpstreamData(network::Buffer& data, bool end_stream) override;
  void OnUpstreamTrailers(std::unique_ptr<http::HeaderMap> trailers) override;
  void OnUpstreamFailure(UpstreamRequest& request, router::AttemptFailure failure,
                         std::string_view details) override;
  void OnUpstreamResetAfterHeaders(std::string_view details) override;
  void OnUpstreamAboveWriteBufferHighWatermark() override;
  void OnUpstreamBelowWriteBufferLowWatermark() override;

 private:
  // Picks a host and starts an attempt on it; false if the stream was answered locally instead.
  bool StartAttempt();
  // Retries if the policy, the attempts left and the circuit breakers allow; true if a retry is
  // scheduled. `retriable` says whether the policy covers what happened.
  bool MaybeScheduleRetry(bool retriable);
  void OnRetryTimer();
  void OnPerTryTimeout();
  void ArmPerTryTimer();
  // The current attempt is over (retry, failure, timeout): it is destroyed after this event.
  void ReleaseAttempt(bool reset);
  void FailStream(router::AttemptFailure failure, std::string_view details);
  void StartShadows();
  void AbandonBufferedRequest();

  ActiveStream& stream_;
  cluster::ThreadLocalCluster& cluster_;
  const router::RouteAction& action_;
  const router::VirtualHost& virtual_host_;
  const router::RetryPolicy* retry_policy_ = nullptr;  // null: no retries
  upstream::LbContext lb_context_;
  http::HeaderMap* headers_ = nullptr;
  std::unique_ptr<UpstreamRequest> attempt_;
  // The request so far, kept while a retry or a mirror may need to send it again.
  network::Buffer request_body_;
  std::unique_ptr<http::HeaderMap> request_trailers_;
  bool buffering_request_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  uint32_t retries_done_ = 0;
  bool holding_retry_ = false;  // counted in the cluster's retries resource
  std::vector<std::string> attempted_hosts_;
  std::unique_ptr<event::Timer> retry_timer_;
  std::unique_ptr<event::Timer> per_try_timer_;
  int read_disabled_ = 0;
};

}  // namespace weft::proxy
