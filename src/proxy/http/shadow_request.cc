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
  const bool has_body = body != nullptr && body->length() > 0;
  ShadowRequest& shadow = static_cast<ShadowRequest&>(DetachedRequest::Launch(
      shadows_, std::make_unique<ShadowRequest>(dispatcher, std::move(headers)), cluster, host,
      timeout, !has_body && trailers == nullptr));
  if (shadow.finished()) return;
  if (has_body) {
    network::Buffer copy;
    copy.Append(body->view());
    shadow.upstream().SendData(copy, trailers == nullptr);
  }
  if (trailers != nullptr && !shadow.finished()) shadow.upstream().SendTrailers(*trailers);
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

}  // namespace weft::proxy
