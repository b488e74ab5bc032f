// A mirrored copy of a request (RouteAction.request_mirror_policies): sent to the mirror cluster
// once the original request is complete, with ":authority" suffixed "-shadow" so the mirror can
// tell copies from real traffic; its response is read and dropped. Fire and forget: it lives on
// in the worker's list after the original stream ends, bounded by the route timeout, and never
// affects the original response.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <chrono>
#include <memory>

#include "proxy/http/detached_request.h"

namespace weft::proxy {

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
  DetachedRequest::List shadows_;
};

class ShadowRequest : public DetachedRequest {
 public:
  ShadowRequest(event::Dispatcher& dispatcher, std::unique_ptr<http::HeaderMap> headers)
      : DetachedRequest(dispatcher, std::move(headers)) {}

  // The response is dropped; its end (or any failure) finishes the shadow.
  void OnUpstreamHeaders(UpstreamRequest& request, std::unique_ptr<http::HeaderMap> headers,
                         bool end_stream) override;
  void OnUpstreamData(network::Buffer& data, bool end_stream) override;
};

}  // namespace weft::proxy
