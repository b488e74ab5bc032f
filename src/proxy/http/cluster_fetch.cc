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
  DetachedRequest::Launch(
      fetches_, std::make_unique<ClusterFetch>(dispatcher, std::move(headers), std::move(done)),
      cluster, host, timeout, /*end_stream=*/true);
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

void ClusterFetch::OnFinished() {
  std::optional<std::string> result;
  if (ok_status_ && complete_) result = std::move(body_);
  ClusterFetches::Done done = std::move(done_);
  done(std::move(result));
}

}  // namespace weft::proxy
