#include "proxy/http/shadow_request.h"

#include "proxy/router/router.h"

namespace weft::proxy {

void ShadowRequests::Start(event::Dispatcher& dispatcher, cluster::ThreadLocalCluster& cluster,
                           std::unique_ptr<http::HeaderMap> headers, const network::Buffer* body,
                           const http::HeaderMap* trailers, std::chrono::milliseconds timeout,
                           bool append_shadow_suffix) {
  upstream::LbContext context;
  const int host = cluster.ChooseHost(context);
  if (host < 0) {
    cluster.stats().upstream_cx_none_healthy.Inc();
    return;
  }
  if (append_shadow_suffix) {
    // Envoy's convention: the mirror sees "<host>-shadow", the port (if any) kept after it.
    std::string authority(headers->Authority());
    const size_t port = router::AuthorityPortStart(authority);
    authority.insert(port == std::string::npos ? authority.size() : port, "-shadow");
    headers->Set(":authority", std::move(authority));
  }
  shadows_.push_back(std::make_unique<ShadowRequest>(*this, dispatcher, std::move(headers)));
  ShadowRequest& shadow = *shadows_.back();
  shadow.self_ = std::prev(shadows_.end());
  if (timeout.count() > 0) {
    shadow.timeout_ = dispatcher.CreateTimer([&shadow] {
      if (shadow.upstream_) shadow.upstream_->OnTimeout();
      shadow.Finish();
    });
    shadow.timeout_->Enable(timeout);
  }
  shadow.upstream_ =
      std::make_unique<UpstreamRequest>(shadow, cluster, host, cluster.PoolFor(host));
  const bool has_body = body != nullptr && body->length() > 0;
  UpstreamRequest* upstream = shadow.upstream_.get();
  upstream->Start(*shadow.headers_, !has_body && trailers == nullptr);
  if (shadow.finished_) return;
  if (has_body) {
    network::Buffer copy;
    copy.Append(body->view());
    upstream->SendData(copy, trailers == nullptr);
  }
  if (trailers != nullptr && !shadow.finished_) upstream->SendTrailers(*trailers);
}

ShadowRequest::ShadowRequest(ShadowRequests& owner, event::Dispatcher& dispatcher,
                             std::unique_ptr<http::HeaderMap> headers)
    : owner_(owner), dispatcher_(dispatcher), headers_(std::move(headers)) {
  info_.start_monotonic = dispatcher_.Now();
}

ShadowRequest::~ShadowRequest() {
  if (timeout_) timeout_->Disable();
}

void ShadowRequest::OnUpstreamHeaders(UpstreamRequest& /*request*/,
                                      std::unique_ptr<http::HeaderMap> /*headers*/,
                                      bool end_stream) {
  if (end_stream) Finish();
}

void ShadowRequest::OnUpstreamData(network::Buffer& data, bool end_stream) {
  data.Drain(data.length());
  if (end_stream) Finish();
}

void ShadowRequest::Finish() {
  if (finished_) return;
  finished_ = true;
  if (timeout_) timeout_->Disable();
  // Called from inside the attempt's callbacks: both go after this event.
  if (upstream_) {
    upstream_->Reset();
    dispatcher_.DeferredDelete(std::move(upstream_));
  }
  std::unique_ptr<ShadowRequest> self = std::move(*self_);
  owner_.shadows_.erase(self_);
  dispatcher_.DeferredDelete(event::DeferLater(std::move(self)));
}

}  // namespace weft::proxy
