#include "proxy/health/health_checker.h"

#include "absl/strings/numbers.h"
#include "base/logging.h"
#include "http/grpc.h"
#include "network/connection.h"
#include "proxy/codec/codec_factory.h"
#include "proxy/health/grpc_health_protocol.h"

namespace weft::health {

HealthCheckStats HealthCheckStats::Create(stats::Store& store, const std::string& stat_prefix) {
  const std::string p = stat_prefix + "health_check.";
#define WEFT_INIT_COUNTER(name) store.counter(p + #name),
  return HealthCheckStats{WEFT_HEALTH_CHECK_COUNTERS(WEFT_INIT_COUNTER) store.gauge(p + "healthy"),
                          store.gauge(p + "degraded")};
#undef WEFT_INIT_COUNTER
}

bool IsExpectedStatus(const upstream::HealthCheckConfig& config, uint32_t status) {
  if (config.expected_statuses.empty()) return status == 200;
  for (const auto& [start, end] : config.expected_statuses) {
    if (status >= start && status < end) return true;
  }
  return false;
}

bool ContainsPayloadsInOrder(std::string_view data, const std::vector<std::string>& payloads) {
  size_t from = 0;
  for (const std::string& p : payloads) {
    size_t at = data.find(p, from);
    if (at == std::string_view::npos) return false;
    from = at + p.size();
  }
  return true;
}

// One host's probe loop: wait, connect (or reuse), probe, judge, wait again.
class HealthChecker::Session : public network::ConnectionCallbacks,
                               public http::ClientConnectionCallbacks,
                               public http::StreamDecoder,
                               public http::StreamCallbacks {
 public:
  Session(HealthChecker& parent, upstream::HostConstSharedPtr host)
      : parent_(parent), host_(std::move(host)) {
    interval_timer_ = parent_.dispatcher_.CreateTimer([this] { StartCheck(); });
    timeout_timer_ = parent_.dispatcher_.CreateTimer([this] { OnFailure(kNetwork); });
    const auto jitter = parent_.config_.initial_jitter.count();
    interval_timer_->Enable(std::chrono::milliseconds(
        jitter > 0 ? parent_.random_.Uniform(static_cast<uint64_t>(jitter)) : 0));
  }
  ~Session() override { CloseConnection(); }

  bool healthy() const { return healthy_; }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override {
    if (!checking_) {
      data.Drain(data.length());
      if (end_stream) CloseConnection();
      return;
    }
    if (parent_.config_.kind == upstream::HealthCheckConfig::Kind::kTcp) {
      received_.append(data.view());
      data.Drain(data.length());
      if (ContainsPayloadsInOrder(received_, parent_.config_.receive)) {
        OnSuccess();
      } else if (end_stream) {
        OnFailure(kNetwork);
      }
      return;
    }
    absl::Status status = codec_->Dispatch(data);
    if (!status.ok()) {
      OnFailure(kNetwork);
      return;
    }
    if (end_stream && checking_) {
      codec_->OnEof();
      if (checking_) OnFailure(kNetwork);
    }
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) {
      if (parent_.config_.kind == upstream::HealthCheckConfig::Kind::kTcp && checking_ &&
          parent_.config_.receive.empty()) {
        OnSuccess();  // connect-only (or send-only) TCP check
      }
      return;
    }
    // Closed under us: connect refused, reset, or the host hung up.
    connection_closed_ = true;
    if (checking_) OnFailure(kNetwork);
    CloseConnection();
  }

  // http::ClientConnectionCallbacks
  void OnStreamDone(bool reusable) override {
    reusable_ = reusable;
    // The verdict may already be in (it is given when the response ends); a connection the
    // upstream will not reuse is closed now rather than failing the next check.
    if (!checking_ && (!reusable || !parent_.config_.reuse_connection)) CloseConnection();
  }

  void OnGoAway() override {
    // HTTP/2: the upstream takes no new streams here (it is restarting or draining). A check
    // in flight finishes and closes it (OnStreamDone); an idle one is dropped now, so the next
    // check connects afresh instead of failing on a refused stream.
    if (!checking_) CloseConnection();
  }

  // http::StreamDecoder (the HTTP or gRPC check's response)
  void DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) override {
    status_ = 0;
    for (char c : headers->Status()) status_ = status_ * 10 + static_cast<uint32_t>(c - '0');
    // A trailers-only gRPC response carries grpc-status in its only HEADERS.
    if (end_stream) ReadGrpcStatus(*headers);
    if (end_stream) OnHttpResponseComplete();
  }
  void DecodeData(network::Buffer& data, bool end_stream) override {
    if (IsGrpc() && response_body_.size() < kMaxGrpcResponseBytes) {
      response_body_.append(data.view());
    }
    data.Drain(data.length());
    if (end_stream) OnHttpResponseComplete();
  }
  void DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) override {
    ReadGrpcStatus(*trailers);
    OnHttpResponseComplete();
  }
  // http::StreamCallbacks
  void OnResetStream(http::StreamResetReason, std::string_view) override {
    if (checking_) OnFailure(kNetwork);
  }

 private:
  enum FailureKind { kNetwork, kActive };
  // A HealthCheckResponse is a few bytes; anything much bigger is not one (and is not kept).
  static constexpr size_t kMaxGrpcResponseBytes = 64 * 1024;

  bool IsGrpc() const { return parent_.config_.kind == upstream::HealthCheckConfig::Kind::kGrpc; }

  void StartCheck() {
    checking_ = true;
    parent_.stats_.attempt.Inc();
    timeout_timer_->Enable(parent_.config_.timeout);
    received_.clear();
    response_body_.clear();
    grpc_status_.reset();
    reusable_ = true;
    if (connection_ == nullptr || connection_closed_) {
      CloseConnection();
      std::string error;
      network::Address to = network::AddressFromSockaddr(
          reinterpret_cast<const sockaddr*>(&host_->address), host_->address_len);
      connection_ = network::Connection::Connect(parent_.dispatcher_, to, 64 * 1024, &error);
      if (connection_ == nullptr) {
        OnFailure(kNetwork);
        return;
      }
      connection_closed_ = false;
      connection_->SetCallbacks(this);
      if (parent_.config_.kind == upstream::HealthCheckConfig::Kind::kHttp) {
        codec_ = http::CreateHttp1ClientCodec(*connection_, *this);
      } else if (IsGrpc()) {
        // gRPC needs HTTP/2: the same client codec the upstream pools use, with the cluster's
        // http2_protocol_options.
        codec_ = http::CreateHttp2ClientCodec(*connection_, *this, parent_.cluster_->http2);
      }
    }
    if (parent_.config_.kind == upstream::HealthCheckConfig::Kind::kTcp) {
      if (!parent_.config_.send.empty()) connection_->Write(parent_.config_.send, false);
      // A reused connection is already up: a connect-only check passes now.
      if (!connection_->Connecting() && parent_.config_.receive.empty()) OnSuccess();
      return;
    }
    SendHttpRequest();
  }

  void SendHttpRequest() {
    const upstream::HealthCheckConfig& c = parent_.config_;
    request_ = std::make_unique<http::HeaderMap>();
    if (IsGrpc()) {
      // A unary call of grpc.health.v1.Health/Check (PROTOCOL-HTTP2.md's request headers).
      request_->Add(":method", "POST");
      request_->Add(":path", std::string(kGrpcHealthCheckPath));
      request_->Add(":authority", c.authority.empty() ? parent_.cluster_->name : c.authority);
      request_->Add(":scheme", "http");
      request_->Add("content-type", "application/grpc");
      request_->Add("te", "trailers");
    } else {
      request_->Add(":method", "GET");
      request_->Add(":path", c.path);
      request_->Add(":authority", c.host.empty() ? parent_.cluster_->name : c.host);
      request_->Add(":scheme", "http");
    }
    // Envoy's health checker identifies itself so upstreams can tell probes from traffic.
    request_->Add("user-agent", "Envoy/HC");
    for (const auto& [name, value] : c.request_headers_to_add) request_->Set(name, value);
    http::StreamEncoder& encoder = codec_->NewStream(*this);
    encoder.SetCallbacks(this);
    if (!IsGrpc()) {
      encoder.EncodeHeaders(*request_, true);
      return;
    }
    encoder.EncodeHeaders(*request_, false);
    network::Buffer body;
    body.Append(http::FrameGrpcMessage(EncodeHealthCheckRequest(c.service_name)));
    encoder.EncodeData(body, true);
  }

  void ReadGrpcStatus(const http::HeaderMap& headers) {
    const std::string* value = headers.Get("grpc-status");
    uint32_t status = 0;
    if (value != nullptr &&
        absl::SimpleAtoi(absl::string_view(value->data(), value->size()), &status)) {
      grpc_status_ = status;
    }
  }

  void OnHttpResponseComplete() {
    if (!checking_) return;
    if (IsGrpc()) {
      absl::Status verdict = JudgeGrpcHealthResponse(status_, grpc_status_, response_body_);
      if (verdict.ok()) {
        OnSuccess();
      } else {
        WEFT_LOG(debug, "gRPC health check of {} failed: {}", host_->address_string,
                 verdict.message());
        OnFailure(kActive);
      }
      return;
    }
    if (IsExpectedStatus(parent_.config_, status_)) {
      OnSuccess();
    } else {
      OnFailure(kActive);
    }
  }

  void OnSuccess() {
    FinishCheck();
    parent_.stats_.success.Inc();
    failures_ = 0;
    bool changed = false;
    if (!healthy_) {
      ++successes_;
      if (first_check_ || successes_ >= parent_.config_.healthy_threshold) {
        healthy_ = true;
        successes_ = 0;
        changed = true;
      }
    }
    first_check_ = false;
    // A connect-only TCP check on a kept connection would prove nothing next time.
    const bool connect_only = parent_.config_.kind == upstream::HealthCheckConfig::Kind::kTcp &&
                              parent_.config_.receive.empty();
    if (!parent_.config_.reuse_connection || !reusable_ || connect_only) CloseConnection();
    const upstream::HealthCheckConfig& c = parent_.config_;
    std::chrono::milliseconds next = c.interval;
    if (changed && c.healthy_edge_interval) next = *c.healthy_edge_interval;
    if (!healthy_ && c.unhealthy_interval) next = *c.unhealthy_interval;
    interval_timer_->Enable(parent_.NextInterval(next));
    const std::string address = host_->address_string;
    HealthChecker& parent = parent_;
    if (changed) {
      parent.UpdateHealthyGauge();
      parent.on_change_(address, true);
    }
    parent.on_pass_(address);
  }

  void OnFailure(FailureKind kind) {
    if (!checking_) return;
    FinishCheck();
    parent_.stats_.failure.Inc();
    if (kind == kNetwork) parent_.stats_.network_failure.Inc();
    successes_ = 0;
    bool changed = false;
    if (healthy_) {
      ++failures_;
      // An HTTP answer outside expected_statuses, or a gRPC answer other than SERVING, fails
      // the host at once (Envoy ignores unhealthy_threshold for it); network failures and
      // timeouts count up to the threshold.
      if (kind == kActive || failures_ >= parent_.config_.unhealthy_threshold) {
        healthy_ = false;
        failures_ = 0;
        changed = true;
      }
    }
    first_check_ = false;
    CloseConnection();
    const upstream::HealthCheckConfig& c = parent_.config_;
    std::chrono::milliseconds next = c.interval;
    if (!healthy_) {
      if (c.unhealthy_interval) next = *c.unhealthy_interval;
      if (changed && c.unhealthy_edge_interval) next = *c.unhealthy_edge_interval;
    }
    interval_timer_->Enable(parent_.NextInterval(next));
    if (changed) {
      parent_.UpdateHealthyGauge();
      parent_.on_change_(host_->address_string, false);
    }
  }

  void FinishCheck() {
    checking_ = false;
    timeout_timer_->Disable();
  }

  // Closing may happen inside the codec's or the connection's own callback, so both are
  // destroyed after the current event.
  void CloseConnection() {
    if (connection_) {
      connection_->SetCallbacks(nullptr);
      connection_->Close(network::Connection::CloseType::kNoFlush);
      parent_.dispatcher_.DeferredDelete(event::DeferLater(std::move(connection_)));
    }
    if (codec_) parent_.dispatcher_.DeferredDelete(event::DeferLater(std::move(codec_)));
    if (request_) parent_.dispatcher_.DeferredDelete(event::DeferLater(std::move(request_)));
    connection_closed_ = false;
  }

  HealthChecker& parent_;
  upstream::HostConstSharedPtr host_;
  std::unique_ptr<event::Timer> interval_timer_;
  std::unique_ptr<event::Timer> timeout_timer_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::ClientConnection> codec_;
  std::unique_ptr<http::HeaderMap> request_;
  std::string received_;
  std::string response_body_;            // gRPC: the HealthCheckResponse, framed
  std::optional<uint32_t> grpc_status_;  // gRPC: from the trailers (or trailers-only headers)
  uint32_t status_ = 0;
  uint32_t successes_ = 0;
  uint32_t failures_ = 0;
  bool healthy_ = false;
  bool first_check_ = true;
  bool checking_ = false;
  bool reusable_ = true;
  bool connection_closed_ = false;
};

HealthChecker::HealthChecker(event::Dispatcher& dispatcher,
                             std::shared_ptr<const upstream::ClusterConfig> cluster,
                             stats::Store& store, const std::string& stat_prefix, Random& random,
                             OnChange on_change, OnPass on_pass)
    : dispatcher_(dispatcher),
      cluster_(std::move(cluster)),
      config_(*cluster_->health_check),
      stats_(HealthCheckStats::Create(store, stat_prefix)),
      random_(random),
      on_change_(std::move(on_change)),
      on_pass_(std::move(on_pass)) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::SetHosts(const upstream::HostSet& hosts) {
  std::map<std::string, std::unique_ptr<Session>> next;
  for (const auto& host : hosts.hosts()) {
    auto it = sessions_.find(host->address_string);
    if (it != sessions_.end()) {
      next[host->address_string] = std::move(it->second);
    } else if (!next.count(host->address_string)) {
      next[host->address_string] = std::make_unique<Session>(*this, host);
    }
  }
  // Sessions of hosts that left end here (their connections close).
  sessions_ = std::move(next);
  UpdateHealthyGauge();
}

bool HealthChecker::IsHealthy(const std::string& address) const {
  auto it = sessions_.find(address);
  return it != sessions_.end() && it->second->healthy();
}

std::chrono::milliseconds HealthChecker::NextInterval(std::chrono::milliseconds base) {
  // interval_jitter adds up to that many ms; interval_jitter_percent up to that share of the
  // interval (health_check.proto); both may apply.
  uint64_t extra = 0;
  if (config_.interval_jitter.count() > 0) {
    extra += random_.Uniform(static_cast<uint64_t>(config_.interval_jitter.count()));
  }
  if (config_.interval_jitter_percent > 0) {
    const uint64_t span =
        static_cast<uint64_t>(base.count()) * config_.interval_jitter_percent / 100;
    if (span > 0) extra += random_.Uniform(span);
  }
  return base + std::chrono::milliseconds(extra);
}

void HealthChecker::UpdateHealthyGauge() {
  int64_t healthy = 0;
  for (const auto& [address, session] : sessions_) healthy += session->healthy() ? 1 : 0;
  stats_.healthy.Set(healthy);
}

}  // namespace weft::health
