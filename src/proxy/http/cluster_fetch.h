// A request a filter makes of a cluster for itself (jwt_authn fetching a remote JWKS): a
// DetachedRequest whose response body is collected, and the caller told the body of a 200 or
// nothing. It may outlive the stream that asked; the caller's callback must cope.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/http/detached_request.h"

namespace weft::proxy {

// The worker's fetches in flight; destroying it abandons them (their callbacks never run).
class ClusterFetches {
 public:
  using Done = std::function<void(std::optional<std::string>)>;
  // Sends `headers` (end of stream) to a host of `cluster`. `done` runs exactly once, possibly
  // before Start returns (no healthy host).
  void Start(event::Dispatcher& dispatcher, cluster::ThreadLocalCluster& cluster,
             std::unique_ptr<http::HeaderMap> headers, std::chrono::milliseconds timeout,
             Done done);
  size_t size() const { return fetches_.size(); }

 private:
  DetachedRequest::List fetches_;
};

class ClusterFetch : public DetachedRequest {
 public:
  ClusterFetch(event::Dispatcher& dispatcher, std::unique_ptr<http::HeaderMap> headers,
               ClusterFetches::Done done)
      : DetachedRequest(dispatcher, std::move(headers)), done_(std::move(done)) {}

  void OnUpstreamHeaders(UpstreamRequest& request, std::unique_ptr<http::HeaderMap> headers,
                         bool end_stream) override;
  void OnUpstreamData(network::Buffer& data, bool end_stream) override;

 private:
  void OnFinished() override;

  // A JWKS is small; a body past this is not one (and not worth holding).
  static constexpr size_t kMaxBody = 1 << 20;

  ClusterFetches::Done done_;
  bool ok_status_ = false;
  bool complete_ = false;  // the whole 200 response arrived
  std::string body_;
};

}  // namespace weft::proxy
