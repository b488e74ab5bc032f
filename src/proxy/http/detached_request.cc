#include "proxy/http/detached_request.h"

namespace weft::proxy {

DetachedRequest::DetachedRequest(event::Dispatcher& dispatcher,
                                 std::unique_ptr<http::HeaderMap> headers)
    : dispatcher_(dispatcher), headers_(std::move(headers)) {
  info_.start_monotonic = dispatcher_.Now();
}

DetachedRequest::~DetachedRequest() {
  if (timeout_) timeout_->Disable();
}

DetachedRequest& DetachedRequest::Launch(List& list, std::unique_ptr<DetachedRequest> request,
                                         cluster::ThreadLocalCluster& cluster, int host,
                                         std::chrono::milliseconds timeout, bool end_stream) {
  list.push_back(std::move(request));
  DetachedRequest& self = *list.back();
  self.list_ = &list;
  self.self_ = std::prev(list.end());
  if (timeout.count() > 0) {
    self.timeout_ = self.dispatcher_.CreateTimer([&self] {
      if (self.upstream_) self.upstream_->OnTimeout();
      self.Finish();
    });
    self.timeout_->Enable(timeout);
  }
  self.upstream_ = std::make_unique<UpstreamRequest>(self, cluster, host, cluster.PoolFor(host));
  self.upstream_->Start(*self.headers_, end_stream);
  return self;
}

void DetachedRequest::Finish() {
  if (finished_) return;
  finished_ = true;
  if (timeout_) timeout_->Disable();
  // Called from inside the attempt's callbacks: both go after this event.
  if (upstream_) {
    upstream_->Reset();
    dispatcher_.DeferredDelete(std::move(upstream_));
  }
  std::unique_ptr<DetachedRequest> self = std::move(*self_);
  list_->erase(self_);
  dispatcher_.DeferredDelete(event::DeferLater(std::move(self)));
  OnFinished();
}

}  // namespace weft::proxy
