#include "proxy/http/cluster_fetch.h"

namespace weft::proxy {

void ClusterFetches::Start(event::Dispatcher& dispatcher, cluster::ThreadLocalCluster& cluster,
                           std::unique_ptr<http::HeaderMap> headers,
                           std::chrono::milliseconds timeout, Done done) {
  upstream::LbContext context;
  const int host = cluster.ChooseHost(context);
  if (host < 0) {
    cluster.stats().upstream_cx_none_healthy.Inc();
    done(std::nullopt);
    return;
  }
  fetches_.push_back(
      std::make_unique<ClusterFetch>(*this, dispatcher, std::move(headers), std::move(done)));
  ClusterFetch& fetch = *fetches_.back();
  fetch.self_ = std::prev(fetches_.end());
  if (timeout.count() > 0) {
    fetch.timeout_ = dispatcher.CreateTimer([&fetch] {
      if (fetch.upstream_) fetch.upstream_->OnTimeout();
      fetch.Finish();
    });
    fetch.timeout_->Enable(timeout);
  }
  fetch.upstream_ = std::make_unique<UpstreamRequest>(fetch, cluster, host, cluster.PoolFor(host));
  fetch.upstream_->Start(*fetch.headers_, true);
}

ClusterFetch::ClusterFetch(ClusterFetches& owner, event::Dispatcher& dispatcher,
                           std::unique_ptr<http::HeaderMap> headers, ClusterFetches::Done done)
    : owner_(owner), dispatcher_(dispatcher), headers_(std::move(headers)), done_(std::move(done)) {
  info_.start_monotonic = dispatcher_.Now();
}

ClusterFetch::~ClusterFetch() {
  if (timeout_) timeout_->Disable();
}

void ClusterFetch::OnUpstreamHeaders(UpstreamRequest& /*request*/,
                                     std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  ok_status_ = headers->Status() == "200";
  if (!ok_status_ || end_stream) {
    complete_ = ok_status_;
    Finish();
  }
}

void ClusterFetch::OnUpstreamData(network::Buffer& data, bool end_stream) {
  if (body_.size() + data.length() > kMaxBody) {
    ok_status_ = false;
    Finish();
    return;
  }
  body_.append(data.view());
  data.Drain(data.length());
  if (end_stream) {
    complete_ = true;
    Finish();
  }
}

void ClusterFetch::Finish() {
  if (finished_) return;
  finished_ = true;
  if (timeout_) timeout_->Disable();
  // Called from inside the attempt's callbacks: both go after this event.
  if (upstream_) {
    upstream_->Reset();
    dispatcher_.DeferredDelete(std::move(upstream_));
  }
  ClusterFetches::Done done = std::move(done_);
  std::optional<std::string> result;
  if (ok_status_ && complete_) result = std::move(body_);
  std::unique_ptr<ClusterFetch> self = std::move(*self_);
  owner_.fetches_.erase(self_);
  dispatcher_.DeferredDelete(event::DeferLater(std::move(self)));
  done(std::move(result));
}

}  // namespace weft::proxy
