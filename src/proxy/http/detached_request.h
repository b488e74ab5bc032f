// A request the worker makes on its own behalf rather than for a downstream stream: a mirrored
// copy (ShadowRequest) or a filter's fetch (ClusterFetch). It is sent to one host through the
// worker's connection pools like any forwarded request (an UpstreamRequest) and lives in a list
// the worker owns, not in the stream that caused it, so it may outlive that stream. What is
// common lives here: the list membership, the timeout, the attempt, and ending exactly once.
//
// Not thread-safe: lives on one worker.
#pragma once

#include <chrono>
#include <list>
#include <memory>

#include "event/dispatcher.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/http/upstream_request.h"

namespace weft::proxy {

class DetachedRequest : public UpstreamRequestCallbacks {
 public:
  // The worker's requests in flight; destroying the list abandons them (their OnFinished never
  // runs).
  using List = std::list<std::unique_ptr<DetachedRequest>>;

  ~DetachedRequest() override;

  // Puts `request` in `list`, arms its timeout (0: none) and sends its headers to `host` of
  // `cluster` (`end_stream` when there is no body). Returns the request, which may already be
  // finished (the pool failed at once).
  static DetachedRequest& Launch(List& list, std::unique_ptr<DetachedRequest> request,
                                 cluster::ThreadLocalCluster& cluster, int host,
                                 std::chrono::milliseconds timeout, bool end_stream);
  bool finished() const { return finished_; }
  // The attempt, to send a body or trailers after Launch; only while !finished().
  UpstreamRequest& upstream() { return *upstream_; }

  // UpstreamRequestCallbacks: any end of the attempt but the response's own ends the request;
  // subclasses see the response in OnUpstreamHeaders / OnUpstreamData.
  event::Dispatcher& dispatcher() override { return dispatcher_; }
  access_log::StreamInfo& info() override { return info_; }
  void OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap>) override {}
  void OnUpstreamTrailers(std::unique_ptr<http::HeaderMap>) override { Finish(); }
  void OnUpstreamFailure(UpstreamRequest&, router::AttemptFailure, std::string_view) override {
    Finish();
  }
  void OnUpstreamResetAfterHeaders(std::string_view) override { Finish(); }

 protected:
  DetachedRequest(event::Dispatcher& dispatcher, std::unique_ptr<http::HeaderMap> headers);

  // Ends the request once: stops the timer, abandons the attempt, leaves the list, and runs
  // OnFinished (the object is deleted after the current event).
  void Finish();
  virtual void OnFinished() {}

 private:
  event::Dispatcher& dispatcher_;
  List* list_ = nullptr;
  List::iterator self_;
  std::unique_ptr<http::HeaderMap> headers_;
  std::unique_ptr<UpstreamRequest> upstream_;
  std::unique_ptr<event::Timer> timeout_;
  access_log::StreamInfo info_;
  bool finished_ = false;
};

}  // namespace weft::proxy
