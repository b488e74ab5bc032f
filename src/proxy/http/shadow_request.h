// A mirrored copy of a request (RouteAction.request_mirror_policies): sent to the mirror cluster
// once the original request is complete, with ":authority" suffixed "-shadow" so the mirror can
// tell copies from real traffic; its response is read and dropped. Fire and forget: it lives on
// in the worker's list after the original stream ends, bounded by the route timeout, and never
// affects the original response.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <list>
#include <memory>

#include "event/dispatcher.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/http/upstream_request.h"

namespace weft::proxy {

class ShadowRequest;

// The worker's shadows in flight; destroying it abandons them.
class ShadowRequests {
 public:
  // Starts a shadow of the request; it removes itself from the list when done.
  void Start(event::Dispatcher& dispatcher, cluster::ThreadLocalCluster& cluster,
             std::unique_ptr<http::HeaderMap> headers, const network::Buffer* body,
             const http::HeaderMap* trailers, std::chrono::milliseconds timeout,
             bool append_shadow_suffix);
  size_t size() const { return shadows_.size(); }

 private:
  friend class ShadowRequest;
  std::list<std::unique_ptr<ShadowRequest>> shadows_;
};

class ShadowRequest : public UpstreamRequestCallbacks {
 public:
  ShadowRequest(ShadowRequests& owner, event::Dispatcher& dispatcher,
                std::unique_ptr<http::HeaderMap> headers);
  ~ShadowRequest() override;

  // UpstreamRequestCallbacks: the response is dropped; any end finishes the shadow.
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  access_log::StreamInfo& info() override { return info_; }
  void OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap>) override {}
  void OnUpstreamHeaders(UpstreamRequest& request, std::unique_ptr<http::HeaderMap> headers,
                         bool end_stream) override;
  void OnUpstreamData(network::Buffer& data, bool end_stream) override;
  void OnUpstreamTrailers(std::unique_ptr<http::HeaderMap>) override { Finish(); }
  void OnUpstreamFailure(UpstreamRequest&, router::AttemptFailure, std::string_view) override {
    Finish();
  }
  void OnUpstreamResetAfterHeaders(std::string_view) override { Finish(); }

 private:
  friend class ShadowRequests;
  void Finish();

  ShadowRequests& owner_;
  event::Dispatcher& dispatcher_;
  std::list<std::unique_ptr<ShadowRequest>>::iterator self_;
  std::unique_ptr<http::HeaderMap> headers_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<event::Timer> timeout_;
  access_log::StreamInfo info_;
  bool finished_ = false;
};

}  // namespace weft::proxy
