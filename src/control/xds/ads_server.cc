#include "control/xds/ads_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "base/logging.h"
#include "control/xds/ads_session.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::control::xds {
namespace {

namespace ads = envoy::service::discovery::v3;

struct Hooks {
  AdsServer::StreamOpenedHook opened;
  AdsServer::StreamClosedHook closed;
};

constexpr std::string_view kBearer = "Bearer ";

// How streams authenticate, and how many did not.
struct Authentication {
  AdsServer::TokenVerifier verify;
  AdsServer::NodeClaim claim;
  std::atomic<int64_t> authentication_failures{0};  // no valid token
  std::atomic<int64_t> authorization_failures{0};   // a valid token of another identity
};

NodeInfo ToNodeInfo(const envoy::config::core::v3::Node& node) {
  NodeInfo info;
  info.id = node.id();
  info.cluster = node.cluster();
  info.user_agent_name = node.user_agent_name();
  if (node.has_user_agent_build_version() && node.user_agent_build_version().has_version()) {
    const auto& v = node.user_agent_build_version().version();
    info.user_agent_version = std::to_string(v.major_number()) + "." +
                              std::to_string(v.minor_number()) + "." + std::to_string(v.patch());
  }
  info.metadata_json = "{}";
  if (node.has_metadata()) {
    std::string json;
    if (google::protobuf::util::MessageToJsonString(node.metadata(), &json).ok()) {
      info.metadata_json = std::move(json);
    }
  }
  const auto& l = node.locality();
  if (!l.region().empty() || !l.zone().empty() || !l.sub_zone().empty()) {
    info.locality = l.region() + "/" + l.zone() + "/" + l.sub_zone();
  }
  return info;
}

// Something a push thread runs when its time comes: a stream pushing the snapshot changes it
// has heard of.
class Pushable {
 public:
  virtual ~Pushable() = default;
  virtual void Push() = 0;
  // The write budget has room again: build what waited for it.
  virtual void Resume() = 0;
  // Server shutdown: finish the stream (clients see UNAVAILABLE and reconnect).
  virtual void End() = 0;
};

// A few threads that run pushes when they are due. The cache's watchers run on the thread that
// set the snapshot (weftd's main loop, for every stream of a view at once); they only schedule
// here, so translating never waits for 1000 streams to build their responses, and the pushes
// of many streams build on several cores.
class PushQueue {
 public:
  explicit PushQueue(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~PushQueue() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Schedule(std::weak_ptr<Pushable> target, std::chrono::steady_clock::time_point due,
                bool resume = false) {
    {
      std::lock_guard lock(mu_);
      queue_.emplace(due, Entry{std::move(target), resume});
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = queue_.begin();
      if (first->first > std::chrono::steady_clock::now()) {
        cv_.wait_until(lock, first->first);
        continue;
      }
      Entry entry = std::move(first->second);
      queue_.erase(first);
      lock.unlock();
      if (auto t = entry.target.lock()) entry.resume ? t->Resume() : t->Push();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  struct Entry {
    std::weak_ptr<Pushable> target;
    bool resume;
  };
  std::multimap<std::chrono::steady_clock::time_point, Entry> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Bytes of responses built and not yet written, across all streams. 1000 proxies connecting at
// once would otherwise each have their whole config (1.2 MB at 1000 services) built and queued
// at the same time: a stream builds only while the total is under the limit, else it parks
// until writes complete. Istio bounds its concurrent pushes the same way (PILOT_PUSH_THROTTLE).
class WriteBudget {
 public:
  static constexpr int64_t kLimit = 32 << 20;

  // Whether a stream may build now; if not it is parked and resumed later.
  bool AdmitOrPark(const std::weak_ptr<Pushable>& stream) {
    std::lock_guard lock(mu_);
    if (in_flight_ < kLimit) return true;
    parked_.push_back(stream);
    return false;
  }
  void Add(int64_t bytes) {
    std::lock_guard lock(mu_);
    in_flight_ += bytes;
  }
  // Returns the parked streams to resume now that `bytes` are written (or dropped).
  std::vector<std::weak_ptr<Pushable>> Release(int64_t bytes) {
    std::lock_guard lock(mu_);
    in_flight_ -= bytes;
    std::vector<std::weak_ptr<Pushable>> resume;
    // A few per release: each resumed stream adds to the total and may park the next ones.
    for (int i = 0; i < 4 && in_flight_ < kLimit && !parked_.empty(); ++i) {
      resume.push_back(std::move(parked_.front()));
      parked_.pop_front();
    }
    return resume;
  }

 private:
  std::mutex mu_;
  int64_t in_flight_ = 0;
  std::deque<std::weak_ptr<Pushable>> parked_;
};

// The names a request asks for: SotW's whole subscription, Delta's new subscriptions.
const google::protobuf::RepeatedPtrField<std::string>& RequestedNames(
    const discovery::DiscoveryRequest& request) {
  return request.resource_names();
}
const google::protobuf::RepeatedPtrField<std::string>& RequestedNames(
    const discovery::DeltaDiscoveryRequest& request) {
  return request.resource_names_subscribe();
}

// What every stream shares: the cache, hooks, push settings and the set of open streams.
struct ServerState {
  explicit ServerState(SnapshotCache& c) : cache(c) {}
  SnapshotCache& cache;
  std::chrono::milliseconds debounce{0};
  Hooks hooks;
  Authentication auth;
  std::unique_ptr<PushQueue> pushes;  // from Start() to Shutdown()
  WriteBudget budget;
  std::mutex mu;
  std::map<Pushable*, std::weak_ptr<Pushable>> open;
};

// One ADS stream of either variant on gRPC's callback API: no thread of its own. Reads are
// answered on the gRPC thread that completed them; snapshot changes are pushed from the
// PushQueue once `debounce` old; one write is in flight at a time, the rest queue in order.
//
// Owned by itself (self_, from Begin until OnDone) so pushes and watchers, which hold weak
// pointers, never reach a deleted stream.
template <typename Session, typename Request, typename Response>
class Stream final : public grpc::ServerBidiReactor<Request, Response>,
                     public Pushable,
                     public std::enable_shared_from_this<Stream<Session, Request, Response>> {
 public:
  // `authorization`: the stream's `authorization` metadata on the TLS port; "" on the
  // plaintext port or when the client sent none (an unauthenticated stream).
  Stream(ServerState& server, std::string peer, std::string authorization)
      : server_(server), peer_(std::move(peer)), authorization_(std::move(authorization)) {}

  void Begin() {
    self_ = this->shared_from_this();
    {
      std::lock_guard lock(server_.mu);
      server_.open.emplace(this, this->weak_from_this());
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the call ended
      std::lock_guard lock(mu_);
      FinishLocked(grpc::Status::OK);
      return;
    }
    std::optional<NodeInfo> opened;
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      if (!session_) {
        // Envoy may send the node only on the first request (set_node_on_first_message_only).
        node_id_ = request_.node().id();
        if (node_id_.empty()) {
          FinishLocked(
              grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request needs node.id"));
          return;
        }
        opened = ToNodeInfo(request_.node());
        if (!authorization_.empty()) {
          grpc::Status refused = Authenticate(*opened);
          if (!refused.ok()) {
            FinishLocked(std::move(refused));
            return;
          }
        }
        WEFT_LOG(
            info, "xds: stream opened by node '{}' ({}{})", node_id_, peer_,
            authenticated_ns_.empty() ? "" : ", authenticated in namespace " + authenticated_ns_);
        server_.cache.StreamOpened(node_id_);
        session_.emplace(server_.cache, node_id_);
        session_->ServeSecrets(!authenticated_ns_.empty());
        std::weak_ptr<Stream> weak = this->weak_from_this();
        watch_ = server_.cache.Watch(node_id_, [weak](const std::vector<std::string>& types) {
          if (auto stream = weak.lock()) stream->OnSnapshotChanged(types);
        });
      }
    }
    // Outside our lock: the hook may set a snapshot, whose watcher (above) takes it. It runs
    // before the first request is answered, so that snapshot is what the node gets first.
    if (opened && server_.hooks.opened) server_.hooks.opened(*opened);
    {
      std::lock_guard lock(mu_);
      if (finished_) return;
      LogUnservedSecrets(request_);
      requests_.push_back(std::move(request_));
      Pump();
    }
    this->StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      DropOutbox(0);
      FinishLocked(grpc::Status::OK);
      return;
    }
    const int64_t written = outbox_.front().second;
    outbox_.pop_front();
    ReleaseBytes(written);
    if (finish_pending_ && outbox_.empty()) {
      this->Finish(*finish_pending_);
      return;
    }
    WriteNext();
    Pump();  // what waited for the outbox to drain
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(mu_);
      done_ = true;
      DropOutbox(0);
    }
    if (session_) {
      server_.cache.Unwatch(watch_);
      if (server_.hooks.closed) server_.hooks.closed(node_id_);
      server_.cache.StreamClosed(node_id_);
      WEFT_LOG(info, "xds: stream of node '{}' closed", node_id_);
    }
    {
      std::lock_guard lock(server_.mu);
      server_.open.erase(this);
    }
    auto keep = std::move(self_);  // may delete this on return: touch nothing after
  }

  void Push() override {
    std::lock_guard lock(mu_);
    push_scheduled_ = false;
    push_due_ = true;
    Pump();
  }

  void Resume() override {
    std::lock_guard lock(mu_);
    parked_ = false;
    Pump();
  }

  void End() override {
    std::lock_guard lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "weftd is shutting down"));
  }

 private:
  // Istio's order (pilot/pkg/xds/authentication.go): authenticate the caller (here its bearer
  // token, checked as weftd's CA checks it), then authorize the node against that identity
  // (checkConnectionIdentity: the namespace must match, and the service account when the node
  // claims one). On success the session remembers the token's namespace.
  grpc::Status Authenticate(const NodeInfo& node) {
    Authentication& auth = server_.auth;
    auto refuse = [&](std::atomic<int64_t>& counter, grpc::StatusCode code, std::string why) {
      ++counter;
      WEFT_LOG(warn, "xds: refused the stream of node '{}' ({}): {}", node.id, peer_, why);
      return grpc::Status(code, why);
    };
    if (authorization_.rfind(kBearer, 0) != 0) {
      return refuse(auth.authentication_failures, grpc::StatusCode::UNAUTHENTICATED,
                    "authentication failure: authorization is not a Bearer token");
    }
    if (!auth.verify || !auth.claim) {
      return refuse(auth.authentication_failures, grpc::StatusCode::UNAUTHENTICATED,
                    "authentication failure: this server checks no tokens");
    }
    absl::StatusOr<StreamIdentity> token = auth.verify(authorization_.substr(kBearer.size()));
    if (!token.ok()) {
      return refuse(auth.authentication_failures, grpc::StatusCode::UNAUTHENTICATED,
                    "authentication failure: " + std::string(token.status().message()));
    }
    const StreamIdentity claim = auth.claim(node);
    if (claim.ns != token->ns ||
        (!claim.service_account.empty() && claim.service_account != token->service_account)) {
      return refuse(auth.authorization_failures, grpc::StatusCode::PERMISSION_DENIED,
                    "authorization failed: the token is of " + token->ns + "/" +
                        token->service_account + ", the node claims " + claim.ns + "/" +
                        (claim.service_account.empty() ? "*" : claim.service_account));
    }
    authenticated_ns_ = token->ns;
    return grpc::Status::OK;
  }

  // A proxy asking for an SDS secret its snapshot lacks (another namespace's Secret, or one that
  // does not exist) gets nothing; say so once per name and stream. Names only: never content.
  void LogUnservedSecrets(const Request& request) {
    if (request.type_url() != kSecretType) return;
    if (authenticated_ns_.empty()) {
      if (RequestedNames(request).empty() || unauthenticated_secret_logged_) return;
      unauthenticated_secret_logged_ = true;
      WEFT_LOG(warn,
               "xds: node '{}': secret {} not served: the stream is not authenticated (use the "
               "TLS xDS port with a token)",
               node_id_, RequestedNames(request)[0]);
      return;
    }
    std::shared_ptr<const Snapshot> snapshot = server_.cache.GetSnapshot(node_id_);
    const TypeResources* secrets = nullptr;
    if (snapshot) {
      if (auto it = snapshot->find(kSecretType); it != snapshot->end()) secrets = &it->second;
    }
    for (const std::string& name : RequestedNames(request)) {
      if (secrets != nullptr && secrets->resources.count(name)) continue;
      if (!unserved_secrets_logged_.insert(name).second) continue;
      WEFT_LOG(warn,
               "xds: node '{}' asked for secret '{}', which is not served to it (no such "
               "credential among the Secrets of its namespace; a proxy gets no other namespace's)",
               node_id_, name);
    }
  }

  // The cache's watcher: remember what changed and schedule one push, `debounce` after the
  // first change not pushed yet, so a burst settles into one push of the latest snapshot.
  void OnSnapshotChanged(const std::vector<std::string>& types) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    changed_types_.insert(changed_types_.end(), types.begin(), types.end());
    if (push_scheduled_ || !server_.pushes) return;
    push_scheduled_ = true;
    server_.pushes->Schedule(this->weak_from_this(),
                             std::chrono::steady_clock::now() + server_.debounce);
  }

  // Answers the queued requests and pushes the due changes, unless earlier responses are still
  // being written (this stream's backpressure) or the server's write budget is spent (then
  // the stream parks until it has room).
  void Pump() {
    if (changed_types_.empty()) push_due_ = false;
    if (finished_ || !session_ || parked_ || !outbox_.empty()) return;
    const bool push = push_due_ && !changed_types_.empty();
    if (requests_.empty() && !push) return;
    if (!server_.budget.AdmitOrPark(this->weak_from_this())) {
      parked_ = true;
      return;
    }
    std::vector<Response> out;
    for (const Request& request : requests_) {
      for (auto& r : session_->OnRequest(request)) out.push_back(std::move(r));
    }
    requests_.clear();
    if (push) {
      std::vector<std::string> changed;
      changed.swap(changed_types_);
      push_due_ = false;
      SortByWarmingOrder(changed);
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      for (auto& r : session_->OnSnapshotChanged(changed)) out.push_back(std::move(r));
    }
    int64_t bytes = 0;
    for (auto& r : out) {
      const auto size = static_cast<int64_t>(r.ByteSizeLong());
      bytes += size;
      outbox_.emplace_back(std::move(r), size);
    }
    server_.budget.Add(bytes);
    WriteNext();
  }
  // Drops the outbox's entries from `keep` on, giving their bytes back to the budget.
  void DropOutbox(size_t keep) {
    int64_t bytes = 0;
    while (outbox_.size() > keep) {
      bytes += outbox_.back().second;
      outbox_.pop_back();
    }
    ReleaseBytes(bytes);
  }
  void ReleaseBytes(int64_t bytes) {
    if (bytes == 0) return;
    for (auto& stream : server_.budget.Release(bytes)) {
      if (server_.pushes) server_.pushes->Schedule(std::move(stream), {}, /*resume=*/true);
    }
  }
  void WriteNext() {
    if (writing_ || outbox_.empty() || finished_) return;
    writing_ = true;
    this->StartWrite(&outbox_.front().first);
  }
  // Finish once; a write in flight completes first (gRPC allows no Finish during a write).
  void FinishLocked(grpc::Status status) {
    if (finished_ || done_) return;
    finished_ = true;
    if (writing_) {
      finish_pending_ = std::move(status);
      DropOutbox(1);  // only the one being written stays
      return;
    }
    DropOutbox(0);
    this->Finish(status);
  }

  ServerState& server_;
  const std::string peer_;
  const std::string authorization_;
  std::shared_ptr<Stream> self_;
  Request request_;  // the read in flight
  // mu_ guards what follows. Recursive: gRPC may run a reaction inline from a Start* call.
  std::recursive_mutex mu_;
  std::string node_id_;
  std::optional<Session> session_;  // from the first request on
  uint64_t watch_ = 0;
  std::deque<Request> requests_;  // read, not answered yet
  // Built responses and their sizes; front() is being written while writing_.
  std::deque<std::pair<Response, int64_t>> outbox_;
  bool parked_ = false;    // waiting for the write budget
  bool push_due_ = false;  // the debounce of changed_types_ has passed
  bool writing_ = false;
  bool finished_ = false;  // Finish called or pending
  std::optional<grpc::Status> finish_pending_;
  bool done_ = false;
  std::vector<std::string> changed_types_;
  bool push_scheduled_ = false;
  std::set<std::string> unserved_secrets_logged_;
  bool unauthenticated_secret_logged_ = false;
  std::string authenticated_ns_;  // "" unless the stream authenticated (Authenticate)
};

class AdsService final : public ads::AggregatedDiscoveryService::CallbackService {
 public:
  // `tls`: the TLS port's service, whose streams may authenticate with a bearer token.
  AdsService(ServerState& state, bool tls) : state_(state), tls_(tls) {}

  grpc::ServerBidiReactor<ads::DiscoveryRequest, ads::DiscoveryResponse>* StreamAggregatedResources(
      grpc::CallbackServerContext* context) override {
    return Open<SotwSession, ads::DiscoveryRequest, ads::DiscoveryResponse>(context);
  }
  grpc::ServerBidiReactor<ads::DeltaDiscoveryRequest, ads::DeltaDiscoveryResponse>*
  DeltaAggregatedResources(grpc::CallbackServerContext* context) override {
    return Open<DeltaSession, ads::DeltaDiscoveryRequest, ads::DeltaDiscoveryResponse>(context);
  }

 private:
  template <typename Session, typename Request, typename Response>
  grpc::ServerBidiReactor<Request, Response>* Open(grpc::CallbackServerContext* context) {
    std::string authorization;
    if (tls_) {
      const auto& metadata = context->client_metadata();
      if (auto it = metadata.find("authorization"); it != metadata.end()) {
        authorization.assign(it->second.data(), it->second.size());
      }
    }
    auto stream = std::make_shared<Stream<Session, Request, Response>>(state_, context->peer(),
                                                                       std::move(authorization));
    stream->Begin();
    return stream.get();  // owned by itself until OnDone
  }

  ServerState& state_;
  const bool tls_;
};

}  // namespace

class AdsServer::Impl {
 public:
  explicit Impl(SnapshotCache& cache)
      : state(cache), service(state, /*tls=*/false), tls_service(state, /*tls=*/true) {}
  ServerState state;
  AdsService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  // The TLS port: its own grpc::Server (a service registered on a server is served on all of
  // its ports, and the CA must not be on the plaintext one), sharing the streams' state.
  AdsService tls_service;
  std::string tls_address, tls_cert_chain, tls_key;
  std::vector<grpc::Service*> tls_extra_services;
  std::unique_ptr<grpc::Server> tls_server;
  int tls_port = 0;
};

AdsServer::AdsServer(SnapshotCache& cache) : impl_(std::make_unique<Impl>(cache)) {}

AdsServer::~AdsServer() { Shutdown(); }

absl::Status AdsServer::Start(const std::string& address) {
  // The TLS port first: when it cannot listen nothing has started, and the caller may Start()
  // again without it (weftd does when its default TLS port is taken).
  if (!impl_->tls_address.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({impl_->tls_key, impl_->tls_cert_chain});
    // Proxies authenticate with a bearer token, not a client certificate (they have none yet).
    tls.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    grpc::ServerBuilder tls_builder;
    tls_builder.AddListeningPort(impl_->tls_address, grpc::SslServerCredentials(tls),
                                 &impl_->tls_port);
    tls_builder.RegisterService(&impl_->tls_service);
    for (grpc::Service* extra : impl_->tls_extra_services) tls_builder.RegisterService(extra);
    tls_builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    tls_builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    impl_->tls_server = tls_builder.BuildAndStart();
    if (!impl_->tls_server || impl_->tls_port == 0) {
      impl_->tls_server.reset();
      impl_->tls_port = 0;
      return absl::UnavailableError("xds: cannot listen on " + impl_->tls_address);
    }
  }
  // Two push threads: the machine's cores build many streams' responses at once.
  impl_->state.pushes = std::make_unique<PushQueue>(2);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->service);
  // Proxies keep their stream open for hours: keepalive pings find the dead ones.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    if (impl_->tls_server) impl_->tls_server->Shutdown();
    impl_->tls_server.reset();
    impl_->state.pushes.reset();
    return absl::UnavailableError("xds: cannot listen on " + address);
  }
  WEFT_LOG(info, "xds: ADS server listening on {} (port {})", address, impl_->port);
  if (impl_->tls_server) {
    WEFT_LOG(info, "xds: ADS and CA over TLS listening on {} (port {})", impl_->tls_address,
             impl_->tls_port);
  }
  return absl::OkStatus();
}

void AdsServer::AddTlsPort(std::string address, std::string cert_chain_pem,
                           std::string private_key_pem,
                           std::vector<grpc::Service*> extra_services) {
  impl_->tls_address = std::move(address);
  impl_->tls_cert_chain = std::move(cert_chain_pem);
  impl_->tls_key = std::move(private_key_pem);
  impl_->tls_extra_services = std::move(extra_services);
}

int AdsServer::port() const { return impl_->port; }
int AdsServer::tls_port() const { return impl_->tls_port; }

void AdsServer::SetPushDebounce(std::chrono::milliseconds debounce) {
  impl_->state.debounce = debounce;
}

void AdsServer::SetStreamHooks(StreamOpenedHook on_opened, StreamClosedHook on_closed) {
  impl_->state.hooks = Hooks{std::move(on_opened), std::move(on_closed)};
}

void AdsServer::SetAuthentication(TokenVerifier verify, NodeClaim claim) {
  impl_->state.auth.verify = std::move(verify);
  impl_->state.auth.claim = std::move(claim);
}

std::string AdsServer::PrometheusText() const {
  // Istio logs these refusals ("Unauthorized XDS") without a metric of its own; the name follows
  // its pilot_xds_* family.
  const Authentication& auth = impl_->state.auth;
  return "# HELP pilot_xds_auth_failures ADS streams refused: no valid token (authentication) "
         "or a node claiming another identity than its token's (authorization).\n"
         "# TYPE pilot_xds_auth_failures counter\n"
         "pilot_xds_auth_failures{reason=\"authentication\"} " +
         std::to_string(auth.authentication_failures.load()) +
         "\npilot_xds_auth_failures{reason=\"authorization\"} " +
         std::to_string(auth.authorization_failures.load()) + "\n";
}

void AdsServer::Shutdown() {
  if (!impl_->server) return;
  std::vector<std::shared_ptr<Pushable>> open;
  {
    std::lock_guard lock(impl_->state.mu);
    for (auto& [_, weak] : impl_->state.open) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->End();
  open.clear();
  // Waits for every stream's OnDone; the deadline cancels what has not finished by then.
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  impl_->server->Shutdown(deadline);
  if (impl_->tls_server) impl_->tls_server->Shutdown(deadline);
  impl_->server.reset();
  impl_->tls_server.reset();
  impl_->state.pushes.reset();
}

}  // namespace weft::control::xds
