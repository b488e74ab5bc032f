#include "proxy/http/active_stream.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "http/grpc.h"
#include "proxy/http/connection_manager.h"
#include "proxy/http/upstream_router.h"
#include "proxy/router/hash_policy.h"
#include "proxy/router/route_actions.h"
#include "proxy/router/route_matcher.h"

namespace weft::proxy {

namespace {

// Hop-by-hop fields (RFC 9110 §7.6.1) never cross the proxy; the codecs add their own framing.
void RemoveHopByHopHeaders(http::HeaderMap& headers, bool keep_upgrade) {
  headers.Remove("connection");
  headers.Remove("keep-alive");
  headers.Remove("proxy-connection");
  headers.Remove("transfer-encoding");
  // "te: trailers" is what gRPC sends end to end (RFC 9113 §8.2.2 allows it in HTTP/2).
  std::string_view te = headers.GetOr("te");
  if (!absl::EqualsIgnoreCase(absl::string_view(te.data(), te.size()), "trailers")) {
    headers.Remove("te");
  }
  if (!keep_upgrade) headers.Remove("upgrade");
}

// How much request body is kept while a filter holds the request (a fault delay) before the
// client is read-disabled: Envoy's default per_connection_buffer_limit_bytes.
constexpr size_t kHeldRequestBufferLimit = 1024 * 1024;

uint32_t ParseStatus(std::string_view s) {
  uint32_t code = 0;
  if (!absl::SimpleAtoi(absl::string_view(s.data(), s.size()), &code)) return 0;
  return code;
}

}  // namespace

ActiveStream::ActiveStream(HttpConnectionManager& hcm, http::StreamEncoder& response_encoder)
    : hcm_(hcm), encoder_(response_encoder) {
  encoder_.SetCallbacks(this);
  info_.start_time = hcm_.worker().dispatcher.SystemNow();
  info_.start_monotonic = hcm_.worker().dispatcher.Now();
  info_.protocol = http::ProtocolString(response_encoder.protocol());
  info_.downstream_local_address = hcm_.connection().local_address_string();
  info_.downstream_direct_remote_address = hcm_.connection().remote_address_string();
  info_.downstream_remote_address = info_.downstream_direct_remote_address;
  info_.SetDownstreamSecurity(hcm_.connection().shared_security_info());
  hcm_.stats().downstream_rq_total.Inc();
  hcm_.stats().downstream_rq_active.Inc();
  const auto& cfg = *hcm_.runtime().config;
  if (cfg.stream_idle_timeout.count() > 0) StartIdleTimer(cfg.stream_idle_timeout);
  if (cfg.request_timeout.count() > 0) {
    request_timer_.emplace(dispatcher(), [this] { OnStreamTimeout(); });
    request_timer_->Enable(cfg.request_timeout);
  }
}

ActiveStream::~ActiveStream() {
  if (!finished_) Finish();
}

event::Dispatcher& ActiveStream::dispatcher() { return hcm_.worker().dispatcher; }
Random& ActiveStream::random() { return hcm_.worker().random; }

void ActiveStream::FetchFromCluster(std::string_view cluster_name,
                                    std::unique_ptr<http::HeaderMap> request,
                                    std::chrono::milliseconds timeout,
                                    std::function<void(std::optional<std::string>)> done) {
  WorkerContext& worker = hcm_.worker();
  cluster::ThreadLocalCluster* cluster = worker.clusters.Get(cluster_name);
  if (cluster == nullptr) {
    done(std::nullopt);
    return;
  }
  worker.fetches.Start(worker.dispatcher, *cluster, std::move(request), timeout, std::move(done));
}
stats::Store& ActiveStream::stats() { return hcm_.worker().stats; }
const std::string& ActiveStream::stat_prefix() { return hcm_.runtime().stat_prefix; }

const router::RouteFilterConfig* ActiveStream::PerRouteConfig(std::string_view filter_name) {
  if (route_ == nullptr) return nullptr;
  // The most specific level wins: the route's, then its virtual host's.
  const auto& on_route = route_->route->per_filter_config;
  if (auto it = on_route.find(filter_name); it != on_route.end()) return it->second.get();
  const auto& on_host = route_->virtual_host->config->per_filter_config;
  if (auto it = on_host.find(filter_name); it != on_host.end()) return it->second.get();
  return nullptr;
}

void ActiveStream::StartIdleTimer(std::chrono::milliseconds timeout) {
  if (!idle_timer_) {
    idle_timer_.emplace(dispatcher(), [this] {
      OnIdleTimeout();
      return true;
    });
  }
  idle_timer_->Start(timeout);
}

void ActiveStream::ResetIdleTimer() {
  if (idle_timer_) idle_timer_->Touch();
}

std::string ActiveStream::GenerateRequestId() {
  // A version 4 UUID (RFC 4122 §4.4) from the worker's generator.
  uint64_t hi = hcm_.worker().random.Next(), lo = hcm_.worker().random.Next();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  // 8-4-4-4-12 hex digits; written by hand because snprintf showed up in profiles.
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t groups[] = {hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                             lo & 0xffffffffffffULL};
  const int digits[] = {8, 4, 4, 4, 12};
  std::string out;
  out.reserve(36);
  for (int g = 0; g < 5; ++g) {
    if (g > 0) out += '-';
    for (int i = digits[g] - 1; i >= 0; --i) out += kHex[(groups[g] >> (4 * i)) & 0xf];
  }
  return out;
}

void ActiveStream::DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  request_headers_ = std::move(headers);
  info_.request_headers = request_headers_.get();
  request_complete_ = end_stream;
  headers_end_stream_ = end_stream;
  if (end_stream)
    info_.last_downstream_rx_byte_received = dispatcher().Now() - info_.start_monotonic;
  ResetIdleTimer();
  const auto& cfg = *hcm_.runtime().config;
  http::HeaderMap& h = *request_headers_;
  is_head_request_ = h.Method() == "HEAD";
  is_upgrade_ = h.Has("upgrade");

  // Edge headers, as Envoy sets them.
  if (cfg.use_remote_address) {
    std::string remote = hcm_.connection().remote_address().IpString();
    const std::string* xff = h.Get("x-forwarded-for");
    h.Set("x-forwarded-for", xff ? absl::StrCat(*xff, ",", remote) : remote);
  }
  if (!h.Has("x-forwarded-proto")) h.Set("x-forwarded-proto", "http");
  if (cfg.generate_request_id && !h.Has("x-request-id")) h.Set("x-request-id", GenerateRequestId());
  info_.request_id = std::string(h.GetOr("x-request-id"));
  routes_ = &hcm_.runtime().RoutesForStream(hcm_.worker().index, routes_pin_);
  for (const auto& name : routes_->config().internal_only_headers) h.Remove(name);
  is_grpc_ = http::IsGrpcRequest(h);

  // The route is chosen once, before the filters, so they can read it (per-route configs, the
  // target cluster); the router acts on it after them.
  route_ = routes_->Route(h);
  if (route_ != nullptr) {
    info_.route_name = route_->route->name;
    PickCluster();
  }
  ArmStreamDurationTimer();
  for (const auto& factory : hcm_.runtime().filter_factories) {
    if (auto filter = factory->Create(*this)) filters_.push_back(std::move(filter));
  }
  RunDecoderFilters();
}

void ActiveStream::RunDecoderFilters() {
  decoding_held_ = false;
  while (next_filter_ < filters_.size()) {
    const filters::FilterStatus status =
        filters_[next_filter_++]->DecodeHeaders(*request_headers_, request_complete_);
    if (status == filters::FilterStatus::kLocalReplySent || local_reply_ || finished_) return;
    if (status == filters::FilterStatus::kStopIteration) {
      decoding_held_ = true;
      return;
    }
  }
  routed_ = true;
  RouteRequest();
}

void ActiveStream::ContinueDecoding() {
  if (finished_ || local_reply_ || routed_) return;
  RunDecoderFilters();
  if (!routed_) return;
  if (hold_read_disabled_) {
    hold_read_disabled_ = false;
    encoder_.ReadDisable(false);
  }
  // What the client sent while the request was held.
  if (upstream_ && !headers_end_stream_) {
    if (held_body_.length() > 0 || (request_complete_ && !request_trailers_)) {
      upstream_->SendData(held_body_, request_complete_ && !request_trailers_);
    }
    if (upstream_ && request_trailers_) upstream_->SendTrailers(*request_trailers_);
  } else {
    held_body_.Clear();
  }
}

void ActiveStream::PickCluster() {
  const router::RouteAction* action = route_->action();
  if (action == nullptr) return;
  if (!action->weighted_clusters.empty()) {
    weighted_cluster_ =
        router::RouteTable::PickWeightedCluster(*action, hcm_.worker().random.Next());
    if (weighted_cluster_ >= 0) {
      info_.upstream_cluster = action->weighted_clusters[weighted_cluster_].name;
    }
  } else if (!action->cluster_header.empty()) {
    info_.upstream_cluster = std::string(request_headers_->GetOr(action->cluster_header));
  } else {
    info_.upstream_cluster = action->cluster;
  }
}

void ActiveStream::ArmStreamDurationTimer() {
  // RouteAction.max_stream_duration: a bound on the whole exchange, counted from its start; with
  // grpc_timeout_header_max set, a gRPC request's own grpc-timeout sets it (capped there).
  const router::RouteAction* action = route_ ? route_->action() : nullptr;
  if (action == nullptr) return;
  const router::MaxStreamDuration& m = action->max_stream_duration;
  std::optional<std::chrono::milliseconds> duration = m.max_stream_duration;
  if (duration && duration->count() == 0) duration.reset();
  if (m.grpc_timeout_header_max && is_grpc_) {
    if (auto grpc = http::ParseGrpcTimeout(request_headers_->GetOr("grpc-timeout"))) {
      auto d = *grpc;
      if (m.grpc_timeout_header_max->count() > 0) d = std::min(d, *m.grpc_timeout_header_max);
      if (m.grpc_timeout_header_offset && d > *m.grpc_timeout_header_offset) {
        d -= *m.grpc_timeout_header_offset;
      }
      duration = d;
      grpc_deadline_ = true;
    }
  }
  if (!duration) return;
  max_duration_timer_.emplace(dispatcher(), [this] { OnMaxDurationReached(); });
  max_duration_timer_->Enable(*duration);
}

void ActiveStream::OnMaxDurationReached() {
  if (upstream_) {
    upstream_->Reset();
    ReleaseUpstream();
  }
  if (!response_started_) {
    SendLocalReply(408, "downstream duration timeout", "max_duration_timeout",
                   access_log::kDurationTimeout, http::kGrpcDeadlineExceeded);
    return;
  }
  info_.response_flags |= access_log::kDurationTimeout;
  reset_ = true;
  encoder_.ResetStream(http::StreamResetReason::kLocalReset);
}

void ActiveStream::ReleaseUpstream() {
  // Often called from inside the router's own callbacks: destroy it once this event is over.
  if (upstream_) dispatcher().DeferredDelete(event::DeferLater(std::move(upstream_)));
}

void ActiveStream::RouteRequest() {
  if (route_ == nullptr) {
    hcm_.stats().no_route.Inc();
    SendLocalReply(404, "", "route_not_found", access_log::kNoRouteFound);
    return;
  }
  const router::Route& route = *route_->route;

  if (const auto* direct = std::get_if<router::DirectResponseAction>(&route.action)) {
    hcm_.stats().rq_direct_response.Inc();
    SendLocalReply(direct->status, direct->body, "direct_response", 0);
    return;
  }
  if (const auto* redirect = std::get_if<router::RedirectAction>(&route.action)) {
    hcm_.stats().rq_redirect.Inc();
    auto headers = std::make_unique<http::HeaderMap>();
    router::LocalResponse reply =
        router::BuildRedirectResponse(route, *redirect, *request_headers_);
    headers->Add(":status", std::to_string(reply.status));
    headers->Add("location", reply.location);
    headers->Add("content-length", "0");
    info_.response_code = reply.status;
    info_.response_code_details = "redirect";
    local_reply_ = true;
    response_headers_ = std::move(headers);
    EncodeResponseHeaders(*response_headers_, true);
    return;
  }

  const auto& action = std::get<router::RouteAction>(route.action);
  cluster::ThreadLocalCluster* cluster = hcm_.worker().clusters.Get(info_.upstream_cluster);
  if (cluster == nullptr) {
    hcm_.stats().no_cluster.Inc();
    SendLocalReply(action.cluster_header.empty() ? 503 : 404, "", "cluster_not_found",
                   access_log::kNoClusterFound);
    return;
  }
  upstream::LbContext lb_context;
  if (!action.hash_policy.empty()) {
    lb_context.hash = router::ComputeRequestHash(action.hash_policy, *request_headers_,
                                                 hcm_.connection().remote_address().IpString())
                          .hash;
  }

  // The request as the upstream will see it.
  // Like Envoy, the request headers are edited in place into what the upstream sees (the access
  // log then shows the rewritten request; x-envoy-original-path keeps the original path).
  http::HeaderMap* upstream_headers = request_headers_.get();
  RemoveHopByHopHeaders(*upstream_headers, is_upgrade_);
  router::RewritePath(route, action, *upstream_headers);
  router::RewriteHost(action, *upstream_headers);
  routes_->ApplyRequestHeaderMutations(*route_, weighted_cluster_, *upstream_headers, info_);
  if (action.timeout.count() > 0) {
    upstream_headers->Set("x-envoy-expected-rq-timeout-ms", std::to_string(action.timeout.count()));
  }

  // Route timeout: Envoy counts it from the end of the downstream request.
  if (action.timeout.count() > 0) {
    if (!request_timer_) request_timer_.emplace(dispatcher(), [this] { OnStreamTimeout(); });
    if (request_complete_) request_timer_->Enable(action.timeout);
  }
  if (action.idle_timeout && action.idle_timeout->count() > 0) {
    // The route's idle_timeout replaces the connection manager's stream_idle_timeout.
    StartIdleTimer(*action.idle_timeout);
  }

  upstream_ = std::make_unique<UpstreamRouter>(*this, *cluster, *route_, lb_context);
  UpstreamRouter* router = upstream_.get();
  router->Start(*upstream_headers, headers_end_stream_);
}

void ActiveStream::DecodeData(network::Buffer& data, bool end_stream) {
  info_.bytes_received += data.length();
  ResetIdleTimer();
  if (end_stream) {
    request_complete_ = true;
    info_.last_downstream_rx_byte_received = dispatcher().Now() - info_.start_monotonic;
    if (route_ && request_timer_ && !request_timer_->Enabled()) {
      const auto* action = route_->action();
      if (action && action->timeout.count() > 0) request_timer_->Enable(action->timeout);
    }
  }
  if (upstream_) {
    upstream_->SendData(data, end_stream);
  } else if (!routed_ && !local_reply_ && !finished_) {
    // A filter holds the request: keep the body for when it continues, within the buffer limit.
    held_body_.Append(data.view());
    data.Drain(data.length());
    if (!hold_read_disabled_ && held_body_.length() > kHeldRequestBufferLimit) {
      hold_read_disabled_ = true;
      encoder_.ReadDisable(true);
    }
  } else {
    data.Drain(data.length());  // a local reply is (being) sent: the body has nowhere to go
  }
  if (end_stream) MaybeFinish();
}

void ActiveStream::DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) {
  request_trailers_ = std::move(trailers);
  request_complete_ = true;
  if (upstream_) upstream_->SendTrailers(*request_trailers_);  // else kept for ContinueDecoding
  MaybeFinish();
}

void ActiveStream::OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap> headers) {
  encoder_.Encode1xxHeaders(*headers);
}

void ActiveStream::EncodeResponseHeaders(http::HeaderMap& headers, bool end_stream) {
  const auto& cfg = *hcm_.runtime().config;
  response_started_ = true;
  info_.response_code = ParseStatus(headers.Status());
  info_.response_headers = &headers;
  switch (cfg.server_header_transformation) {
    case listener::HttpConnectionManagerConfig::ServerHeaderTransformation::kOverwrite:
      headers.Set("server", cfg.server_name);
      break;
    case listener::HttpConnectionManagerConfig::ServerHeaderTransformation::kAppendIfAbsent:
      if (!headers.Has("server")) headers.Set("server", cfg.server_name);
      break;
    default:
      break;
  }
  if (!headers.Has("date")) headers.Set("date", hcm_.worker().HttpDate(info_.start_time));
  if (hcm_.worker().draining) headers.Set("connection", "close");
  if (end_stream) {
    response_complete_ = true;
    info_.last_downstream_tx_byte_sent = dispatcher().Now() - info_.start_monotonic;
  }
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
    (*it)->EncodeHeaders(headers, end_stream);
  }
  encoder_.EncodeHeaders(headers, end_stream);
  if (end_stream) MaybeFinish();
}

void ActiveStream::OnUpstreamHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) {
  ResetIdleTimer();
  // The route timeout keeps running: in Envoy it spans from the end of the request until the
  // response is complete (RouteAction.timeout in route_components.proto), so a response that
  // stalls after its headers is cut off too. Streaming routes set timeout: 0s.
  response_headers_ = std::move(headers);
  RemoveHopByHopHeaders(*response_headers_, ParseStatus(response_headers_->Status()) == 101);
  if (ParseStatus(response_headers_->Status()) == 101) {
    hcm_.stats().downstream_cx_upgrades_total.Inc();
    response_headers_->Set("connection", "upgrade");
  }
  if (info_.upstream_service_time) {
    response_headers_->Set("x-envoy-upstream-service-time",
                           std::to_string(info_.upstream_service_time->count()));
  }
  routes_->ApplyResponseHeaderMutations(*route_, weighted_cluster_, *response_headers_, info_);
  if (end_stream) ReleaseUpstream();
  EncodeResponseHeaders(*response_headers_, end_stream);
}

void ActiveStream::OnUpstreamData(network::Buffer& data, bool end_stream) {
  ResetIdleTimer();
  info_.bytes_sent += data.length();
  if (end_stream) {
    response_complete_ = true;
    info_.last_downstream_tx_byte_sent = dispatcher().Now() - info_.start_monotonic;
  }
  encoder_.EncodeData(data, end_stream);
  if (end_stream) {
    ReleaseUpstream();
    MaybeFinish();
  }
}

void ActiveStream::OnUpstreamTrailers(std::unique_ptr<http::HeaderMap> trailers) {
  response_trailers_ = std::move(trailers);
  info_.response_trailers = response_trailers_.get();
  response_complete_ = true;
  encoder_.EncodeTrailers(*response_trailers_);
  ReleaseUpstream();
  MaybeFinish();
}

void ActiveStream::OnUpstreamFailure(uint32_t status, uint64_t response_flag,
                                     std::string_view details, std::string_view body) {
  ReleaseUpstream();
  SendLocalReply(status, body, details, response_flag);
}

void ActiveStream::OnUpstreamResetAfterHeaders(std::string_view details) {
  info_.response_flags |= access_log::kUpstreamConnectionTermination;
  info_.response_code_details = std::string(details);
  ReleaseUpstream();
  reset_ = true;
  encoder_.ResetStream(http::StreamResetReason::kRemoteReset);
  // The encoder reset ends the downstream connection; the stream finishes when it reports back.
}

void ActiveStream::OnUpstreamAboveWriteBufferHighWatermark() {
  // The upstream cannot take the request body as fast as the client sends it.
  encoder_.ReadDisable(true);
}
void ActiveStream::OnUpstreamBelowWriteBufferLowWatermark() { encoder_.ReadDisable(false); }

void ActiveStream::OnAboveWriteBufferHighWatermark() {
  // The client reads the response slower than the upstream sends it.
  if (upstream_) upstream_->ReadDisable(true);
}
void ActiveStream::OnBelowWriteBufferLowWatermark() {
  if (upstream_) upstream_->ReadDisable(false);
}

void ActiveStream::OnResetStream(http::StreamResetReason reason, std::string_view details) {
  // The downstream connection went away under us.
  if (reset_ && finished_) return;
  reset_ = true;
  if (reason == http::StreamResetReason::kProtocolError) {
    // The request's body broke the protocol; the codec answered 400 and closes.
    info_.response_flags |= access_log::kDownstreamProtocolError;
    info_.response_code = 400;
    info_.response_code_details = "codec_error:" + std::string(details);
  } else if (!response_complete_) {
    info_.response_flags |= access_log::kDownstreamConnectionTermination;
    if (info_.connection_termination_details.empty()) {
      info_.connection_termination_details = std::string(details);
    }
    hcm_.stats().downstream_rq_rx_reset.Inc();
  }
  if (upstream_) {
    upstream_->Reset();
    ReleaseUpstream();
  }
  Finish();
  hcm_.OnStreamDone(*this);
}

void ActiveStream::OnStreamTimeout() {
  if (response_complete_) return;
  if (response_started_) {
    // Too late for a 504: the client has part of the response. End the stream, logged UT.
    hcm_.stats().downstream_rq_timeout.Inc();
    if (upstream_) {
      upstream_->OnGlobalTimeout();
      ReleaseUpstream();
    }
    info_.response_flags |= access_log::kUpstreamRequestTimeout;
    info_.response_code_details = "upstream_response_timeout";
    reset_ = true;
    encoder_.ResetStream(http::StreamResetReason::kLocalReset);
    return;
  }
  if (upstream_) {
    upstream_->OnGlobalTimeout();
    ReleaseUpstream();
    hcm_.stats().downstream_rq_timeout.Inc();
    SendLocalReply(504, "upstream request timeout", "upstream_response_timeout",
                   access_log::kUpstreamRequestTimeout);
    return;
  }
  hcm_.stats().downstream_rq_timeout.Inc();
  SendLocalReply(408, "request timeout", "request_overall_timeout", 0);
}

void ActiveStream::OnIdleTimeout() {
  hcm_.stats().downstream_rq_idle_timeout.Inc();
  if (upstream_) {
    upstream_->Reset();
    ReleaseUpstream();
  }
  if (!response_started_) {
    SendLocalReply(request_complete_ ? 504 : 408, "stream timeout", "stream_idle_timeout",
                   access_log::kStreamIdleTimeout);
    return;
  }
  info_.response_flags |= access_log::kStreamIdleTimeout;
  reset_ = true;
  encoder_.ResetStream(http::StreamResetReason::kLocalReset);
}

void ActiveStream::SendLocalReply(uint32_t status, std::string_view body, std::string_view details,
                                  uint64_t response_flag, std::optional<uint32_t> grpc_status) {
  info_.response_flags |= response_flag;
  info_.response_code_details = std::string(details);
  local_reply_ = true;
  if (held_body_.length() > 0) held_body_.Clear();
  if (is_grpc_ && !response_started_) {
    SendGrpcLocalReply(status, body, grpc_status);
    return;
  }
  const HcmRuntime& runtime = hcm_.runtime();
  std::string final_body(body);
  std::string content_type = body.empty() ? "" : "text/plain";
  uint32_t final_status = status;
  info_.response_code = status;

  // local_reply_config: the first mapper whose filter matches rewrites status and body.
  const access_log::SubstitutionFormatter* body_format = runtime.local_reply_body_format.get();
  if (!runtime.config->local_reply.content_type.empty() && body_format) {
    content_type = runtime.config->local_reply.content_type;
  }
  for (const auto& mapper : runtime.local_reply_mappers) {
    const listener::LocalReplyMapper& m = *mapper.config;
    bool matches = true;
    if (m.status_code_equals && *m.status_code_equals != status) matches = false;
    if (matches && m.header_filter && request_headers_) {
      matches = router::MatchHeader(*m.header_filter, *request_headers_);
    }
    if (!matches) continue;
    if (m.status_code) final_status = *m.status_code;
    info_.response_code = final_status;
    if (mapper.body) final_body = mapper.body->Format(info_);
    if (mapper.body_format) {
      body_format = mapper.body_format.get();
      if (!m.content_type.empty()) content_type = m.content_type;
    }
    break;
  }
  if (body_format) {
    // The format may print %LOCAL_REPLY_BODY%: the body as the mappers left it.
    info_.local_reply_body = final_body;
    final_body = body_format->Format(info_);
    if (content_type.empty()) content_type = "text/plain";
  }

  auto headers = std::make_unique<http::HeaderMap>();
  headers->Add(":status", std::to_string(final_status));
  if (!final_body.empty()) {
    headers->Add("content-length", std::to_string(final_body.size()));
    headers->Add("content-type", content_type);
  } else {
    headers->Add("content-length", "0");
  }
  if (route_) routes_->ApplyResponseHeaderMutations(*route_, weighted_cluster_, *headers, info_);
  response_headers_ = std::move(headers);
  bool has_body = !final_body.empty() && !is_head_request_;
  if (response_started_) {
    // Too late for a reply: the client already has part of a response.
    reset_ = true;
    encoder_.ResetStream(http::StreamResetReason::kLocalReset);
    return;
  }
  EncodeResponseHeaders(*response_headers_, !has_body);
  if (has_body) {
    network::Buffer b;
    b.Append(final_body);
    info_.bytes_sent += b.length();
    response_complete_ = true;
    info_.last_downstream_tx_byte_sent = dispatcher().Now() - info_.start_monotonic;
    encoder_.EncodeData(b, true);
    MaybeFinish();
  }
}

void ActiveStream::SendGrpcLocalReply(uint32_t status, std::string_view body,
                                      std::optional<uint32_t> grpc_status) {
  // A gRPC client reads the outcome from grpc-status, not the HTTP status: answer with a
  // "trailers-only" response (HTTP 200 whose headers carry grpc-status and grpc-message), the
  // status derived from the HTTP one unless the caller chose it (PROTOCOL-HTTP2.md).
  info_.response_code = 200;
  auto headers = std::make_unique<http::HeaderMap>();
  headers->Add(":status", "200");
  headers->Add("content-type", "application/grpc");
  headers->Add("grpc-status", std::to_string(grpc_status.value_or(http::HttpToGrpcStatus(status))));
  if (!body.empty()) headers->Add("grpc-message", std::string(body));
  if (route_) routes_->ApplyResponseHeaderMutations(*route_, weighted_cluster_, *headers, info_);
  response_headers_ = std::move(headers);
  EncodeResponseHeaders(*response_headers_, true);
}

void ActiveStream::MaybeFinish() {
  if (finished_ || !response_complete_) return;
  // HTTP/1: a response sent before the request body finished ends the connection (the codec
  // knows); the stream itself is done once its response is out.
  Finish();
  hcm_.OnStreamDone(*this);
}

void ActiveStream::Finish() {
  if (finished_) return;
  finished_ = true;
  if (request_timer_) request_timer_->Disable();
  if (max_duration_timer_) max_duration_timer_->Disable();
  if (idle_timer_) idle_timer_->Stop();
  for (auto& filter : filters_) filter->OnDestroy();
  if (upstream_) {
    upstream_->Reset();
    ReleaseUpstream();
  }
  info_.request_complete = dispatcher().Now() - info_.start_monotonic;
  HcmStats& stats = hcm_.stats();
  stats.downstream_rq_active.Dec();
  stats.downstream_rq_completed.Inc();
  if (info_.response_code) stats.RecordResponseCode(*info_.response_code);
  stats.downstream_rq_time.Record(
      std::chrono::duration<double, std::milli>(*info_.request_complete).count());
  WriteAccessLogs();
}

void ActiveStream::WriteAccessLogs() {
  hcm_.worker().access_logs.Write(hcm_.runtime().access_logs, info_);
}

}  // namespace weft::proxy
