#include "control/xds/ads_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "control/xds/ads_session.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace weft::control::xds {
namespace {

namespace ads = envoy::service::discovery::v3;

// What the reading thread and the cache's watcher hand to the stream's answering thread.
template <typename Request>
struct StreamInbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Request> requests;
  std::vector<std::string> changed_types;
  std::chrono::steady_clock::time_point first_change;  // of the changes not pushed yet
  bool reader_done = false;
};

struct Hooks {
  AdsServer::StreamOpenedHook opened;
  AdsServer::StreamClosedHook closed;
};

NodeInfo ToNodeInfo(const envoy::config::core::v3::Node& node) {
  NodeInfo info;
  info.id = node.id();
  info.cluster = node.cluster();
  info.user_agent_name = node.user_agent_name();
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

// Runs one ADS stream of either variant until the client goes away or the server stops.
template <typename Session, typename Request, typename Response>
grpc::Status RunStream(SnapshotCache& cache, const std::atomic<bool>& stopping,
                       std::chrono::milliseconds debounce, const Hooks& hooks,
                       grpc::ServerContext* context,
                       grpc::ServerReaderWriter<Response, Request>* stream) {
  Request first;
  if (!stream->Read(&first)) return grpc::Status::OK;
  // Envoy may send the node only on the first request (set_node_on_first_message_only).
  const std::string node_id = first.node().id();
  if (node_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first request needs node.id");
  }
  WEFT_LOG(info, "xds: stream opened by node '{}' ({})", node_id, context->peer());
  cache.StreamOpened(node_id);
  Session session(cache, node_id);
  const NodeInfo node_info = ToNodeInfo(first.node());  // before `first` moves to the inbox

  auto inbox = std::make_shared<StreamInbox<Request>>();
  inbox->requests.push_back(std::move(first));
  const uint64_t watch = cache.Watch(node_id, [inbox](const std::vector<std::string>& types) {
    std::lock_guard lock(inbox->mu);
    if (inbox->changed_types.empty()) inbox->first_change = std::chrono::steady_clock::now();
    for (const auto& t : types) inbox->changed_types.push_back(t);
    inbox->cv.notify_one();
  });
  if (hooks.opened) hooks.opened(node_info);
  std::thread reader([stream, inbox] {
    Request request;
    while (stream->Read(&request)) {
      std::lock_guard lock(inbox->mu);
      inbox->requests.push_back(std::move(request));
      inbox->cv.notify_one();
    }
    std::lock_guard lock(inbox->mu);
    inbox->reader_done = true;
    inbox->cv.notify_one();
  });

  bool write_failed = false;
  while (!write_failed) {
    std::deque<Request> requests;
    std::vector<std::string> changed;
    {
      std::unique_lock lock(inbox->mu);
      // Changes are pushed once they are `debounce` old, so a burst of them settles into one
      // push of the latest snapshot; requests are answered at once. Wake up now and then to
      // notice Shutdown() (stopping) without a notification.
      auto changes_due = [&] {
        return !inbox->changed_types.empty() &&
               std::chrono::steady_clock::now() >= inbox->first_change + debounce;
      };
      auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      if (!inbox->changed_types.empty()) wake = std::min(wake, inbox->first_change + debounce);
      inbox->cv.wait_until(lock, wake, [&] {
        return !inbox->requests.empty() || changes_due() || inbox->reader_done;
      });
      if (inbox->reader_done || stopping.load()) break;
      requests.swap(inbox->requests);
      if (changes_due()) changed.swap(inbox->changed_types);
    }
    std::vector<Response> out;
    for (const Request& request : requests) {
      for (auto& r : session.OnRequest(request)) out.push_back(std::move(r));
    }
    if (!changed.empty()) {
      SortByWarmingOrder(changed);
      changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
      for (auto& r : session.OnSnapshotChanged(changed)) out.push_back(std::move(r));
    }
    for (const Response& r : out) {
      if (!stream->Write(r)) {
        write_failed = true;
        break;
      }
    }
  }
  cache.Unwatch(watch);
  context->TryCancel();  // unblocks the reader's Read
  reader.join();
  if (hooks.closed) hooks.closed(node_id);
  cache.StreamClosed(node_id);
  WEFT_LOG(info, "xds: stream of node '{}' closed", node_id);
  return grpc::Status::OK;
}

class AdsService final : public ads::AggregatedDiscoveryService::Service {
 public:
  AdsService(SnapshotCache& cache, const std::atomic<bool>& stopping)
      : cache_(cache), stopping_(stopping) {}
  void set_debounce(std::chrono::milliseconds debounce) { debounce_ = debounce; }
  void set_hooks(Hooks hooks) { hooks_ = std::move(hooks); }

  grpc::Status StreamAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<ads::DiscoveryResponse, ads::DiscoveryRequest>* stream) override {
    return RunStream<SotwSession>(cache_, stopping_, debounce_, hooks_, context, stream);
  }
  grpc::Status DeltaAggregatedResources(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<ads::DeltaDiscoveryResponse, ads::DeltaDiscoveryRequest>* stream)
      override {
    return RunStream<DeltaSession>(cache_, stopping_, debounce_, hooks_, context, stream);
  }

 private:
  SnapshotCache& cache_;
  const std::atomic<bool>& stopping_;
  std::chrono::milliseconds debounce_{0};
  Hooks hooks_;
};

}  // namespace

class AdsServer::Impl {
 public:
  explicit Impl(SnapshotCache& cache) : service(cache, stopping) {}
  std::atomic<bool> stopping{false};
  AdsService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

AdsServer::AdsServer(SnapshotCache& cache) : impl_(std::make_unique<Impl>(cache)) {}

AdsServer::~AdsServer() { Shutdown(); }

absl::Status AdsServer::Start(const std::string& address) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(&impl_->service);
  // Proxies keep their stream open for hours: keepalive pings find the dead ones.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Sync streams each hold threads: let the pool grow with the number of proxies.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 4);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0) {
    impl_->server.reset();
    return absl::UnavailableError("xds: cannot listen on " + address);
  }
  WEFT_LOG(info, "xds: ADS server listening on {} (port {})", address, impl_->port);
  return absl::OkStatus();
}

int AdsServer::port() const { return impl_->port; }

void AdsServer::SetPushDebounce(std::chrono::milliseconds debounce) {
  impl_->service.set_debounce(debounce);
}

void AdsServer::SetStreamHooks(StreamOpenedHook on_opened, StreamClosedHook on_closed) {
  impl_->service.set_hooks(Hooks{std::move(on_opened), std::move(on_closed)});
}

void AdsServer::Shutdown() {
  if (!impl_->server) return;
  impl_->stopping = true;
  // Streams notice `stopping` within their 200 ms wake-up; the deadline cancels what remains.
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  impl_->server.reset();
}

}  // namespace weft::control::xds
