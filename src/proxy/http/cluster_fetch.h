// A request a filter makes of a cluster for itself (jwt_authn fetching a remote JWKS): sent to one
// host through the worker's connection pools like any forwarded request (UpstreamRequest), its
// response body collected, and the caller told the body of a 200 or nothing. Like a
// ShadowRequest it lives in the worker's list, not in the stream that asked, so it may outlive
// that stream; the caller's callback must cope.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "event/dispatcher.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/http/upstream_request.h"

namespace weft::proxy {

class ClusterFetch;

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
  friend class ClusterFetch;
  std::list<std::unique_ptr<ClusterFetch>> fetches_;
};

class ClusterFetch : public UpstreamRequestCallbacks {
 public:
  ClusterFetch(ClusterFetches& owner, event::Dispatcher& dispatcher,
               std::unique_ptr<http::HeaderMap> headers, ClusterFetches::Done done);
  ~ClusterFetch() override;

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
  friend class ClusterFetches;
  void Finish();

  // A JWKS is small; a body past this is not one (and not worth holding).
  static constexpr size_t kMaxBody = 1 << 20;

  ClusterFetches& owner_;
  event::Dispatcher& dispatcher_;
  std::list<std::unique_ptr<ClusterFetch>>::iterator self_;
  std::unique_ptr<http::HeaderMap> headers_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<event::Timer> timeout_;
  access_log::StreamInfo info_;
  ClusterFetches::Done done_;
  bool ok_status_ = false;
  bool complete_ = false;  // the whole 200 response arrived
  std::string body_;
  bool finished_ = false;
};

}  // namespace weft::proxy
