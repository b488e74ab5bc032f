// weft-xds-load: N simulated proxies on one ADS server, for bench/control_plane.sh.
//
// Each simulated proxy opens its own ADS stream (its own channel, so its own TCP connection, as
// real sidecars have) with an Istio-style node (id "sidecar~<ip>~<name>.<ns>~<ns>.svc.cluster.
// local", metadata NAMESPACE and LABELS) and subscribes the way weft-proxy does: CDS and LDS
// wildcard, then EDS for the EDS clusters CDS names and RDS for the route names the listeners'
// http_connection_managers name. Every response is ACKed (none NACKed). State of the world or
// Delta per stream (--mode sotw|delta|mix; mix alternates).
//
// All streams run on gRPC's callback API: a handful of gRPC threads serve 1000 streams.
//
// Control, a line protocol on stdin/stdout for the driver (bench/lib/control_plane.py):
//   -> stdout  {"event":"synced","streams":N,"ms":...}    once every stream has its config
//   <- stdin   MARK <round> eds <address>                 watch for an endpoint with that address
//   <- stdin   MARK <round> rds <prefix>                  watch for a route matching that prefix
//   -> stdout  {"event":"round","round":R,"seen":K,"ack_ns":[...],"bytes":[...],...}
//              once every stream saw the marker, or after --round-timeout-ms.
// ack_ns are steady_clock (CLOCK_MONOTONIC) nanoseconds at which each stream sent the ACK of the
// response carrying the marker (-1: never); the driver, on the same clock, subtracts the time
// its PUT started. bytes are what each stream received (serialized response sizes) between the
// MARK and the round's end. "QUIT" (or EOF) ends the process.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace {

namespace ads = envoy::service::discovery::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

constexpr char kCds[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kEds[] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr char kLds[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kRds[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the driver asked to watch for in the current round.
struct Marker {
  int round = -1;
  std::string kind;  // "eds" or "rds"
  std::string value;
};

// Shared between the streams and the control loop.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  int synced = 0;
  int seen = 0;
  int failed = 0;
  Marker marker;
};

// Whether a resource carries the marker.
bool CarriesMarker(const std::string& type, const google::protobuf::Any& any, const Marker& m) {
  // The marker's text is in the serialized resource when the resource carries it: decode only
  // those (a SotW EDS response holds every cluster's endpoints, and this tool shares the
  // machine's cores with the server it measures).
  if (any.value().find(m.value) == std::string::npos) return false;
  if (m.kind == "eds" && type == kEds) {
    envoy::config::endpoint::v3::ClusterLoadAssignment cla;
    if (!any.UnpackTo(&cla)) return false;
    for (const auto& l : cla.endpoints()) {
      for (const auto& e : l.lb_endpoints()) {
        if (e.endpoint().address().socket_address().address() == m.value) return true;
      }
    }
  } else if (m.kind == "rds" && type == kRds) {
    // A RouteConfiguration of 1000 virtual hosts takes milliseconds to decode, times 1000
    // streams on the cores weftd needs: the prefix's bytes being in it is the test (the driver
    // makes the prefix unique per round).
    return true;
  }
  return false;
}

// The EDS names of the clusters, and the RDS names of the listeners.
void CollectNames(const std::string& type, const google::protobuf::Any& any,
                  std::set<std::string>& out) {
  if (type == kCds) {
    envoy::config::cluster::v3::Cluster c;
    if (!any.UnpackTo(&c) || c.type() != envoy::config::cluster::v3::Cluster::EDS) return;
    const std::string& service = c.eds_cluster_config().service_name();
    out.insert(service.empty() ? c.name() : service);
  } else if (type == kLds) {
    envoy::config::listener::v3::Listener l;
    if (!any.UnpackTo(&l)) return;
    for (const auto& chain : l.filter_chains()) {
      for (const auto& f : chain.filters()) {
        hcm::HttpConnectionManager m;
        if (f.typed_config().UnpackTo(&m) && m.has_rds()) {
          out.insert(m.rds().route_config_name());
        }
      }
    }
  }
}

// One simulated proxy. Callbacks of one stream never overlap (gRPC runs a reactor's reads and
// writes one at a time each, but a read and a write completion may overlap: hence mu_).
template <typename Request, typename Response>
class Stream : public grpc::ClientBidiReactor<Request, Response> {
 public:
  Stream(Shared& shared, std::string node_id, std::string ns, std::string app, bool delta)
      : shared_(shared), delta_(delta) {
    node_.set_id(std::move(node_id));
    node_.set_cluster(app + "." + ns);
    auto& fields = *node_.mutable_metadata()->mutable_fields();
    fields["NAMESPACE"].set_string_value(ns);
    auto& labels = *fields["LABELS"].mutable_struct_value()->mutable_fields();
    labels["app"].set_string_value(app);
    labels["version"].set_string_value("v1");
  }

  void Start(ads::AggregatedDiscoveryService::Stub& stub) {
    // 1000 connections at once can overflow the server's accept queue: wait and retry like a
    // proxy does, instead of failing the stream on the first refused connect.
    context_.set_wait_for_ready(true);
    if constexpr (std::is_same_v<Request, ads::DeltaDiscoveryRequest>) {
      stub.async()->DeltaAggregatedResources(&context_, this);
    } else {
      stub.async()->StreamAggregatedResources(&context_, this);
    }
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      Subscribe(kCds, {});
      Subscribe(kLds, {});
    }
    this->StartRead(&response_);
    this->StartCall();
  }

  // Called by the control loop at a MARK: counts restart.
  void BeginRound() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    round_bytes_ = 0;
    ack_ns_ = -1;
  }
  int64_t round_bytes() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return round_bytes_;
  }
  int64_t ack_ns() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return ack_ns_;
  }
  int64_t total_bytes() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return total_bytes_;
  }
  bool delta() const { return delta_; }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    Marker marker;
    {
      std::lock_guard lock(shared_.mu);
      marker = shared_.marker;
    }
    bool newly_synced = false, newly_seen = false;
    {
      std::lock_guard<std::recursive_mutex> lock(mu_);
      const int64_t size = static_cast<int64_t>(response_.ByteSizeLong());
      total_bytes_ += size;
      round_bytes_ += size;
      const std::string type = response_.type_url();
      TypeState& t = types_[type];
      t.answered = true;
      bool carries = false;
      std::set<std::string> names;
      ForEachResource([&](const google::protobuf::Any& any) {
        if (!carries && marker.round >= 0 && marker.round != seen_round_) {
          carries = CarriesMarker(type, any, marker);
        }
        CollectNames(type, any, names);
      });
      if (type == kCds || type == kLds) UpdateKnown(type, names);
      Ack(type);
      if (carries) {
        ack_ns_ = NowNs();
        seen_round_ = marker.round;
        newly_seen = true;
      }
      // The dependent subscriptions follow their parents, as weft-proxy's client does.
      if (type == kCds) Subscribe(kEds, known_[kCds]);
      if (type == kLds) Subscribe(kRds, known_[kLds]);
      if (!synced_ && IsSynced()) newly_synced = synced_ = true;
    }
    if (newly_synced || newly_seen) {
      std::lock_guard lock(shared_.mu);
      if (newly_synced) ++shared_.synced;
      if (newly_seen) ++shared_.seen;
      shared_.cv.notify_all();
    }
    this->StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    writing_ = false;
    if (!ok) return;
    outbox_.pop_front();
    WriteNext();
  }

  void OnDone(const grpc::Status& status) override {
    std::fprintf(stderr, "xds_load: stream %s ended: %d %s\n", node_.id().c_str(),
                 static_cast<int>(status.error_code()), status.error_message().c_str());
    std::lock_guard lock(shared_.mu);
    ++shared_.failed;
    shared_.cv.notify_all();
  }

 private:
  struct TypeState {
    std::set<std::string> names;  // subscribed (SotW: the request's names)
    std::string version, nonce;
    bool requested = false, answered = false;
  };

  template <typename F>
  void ForEachResource(F&& f) {
    if constexpr (std::is_same_v<Response, ads::DeltaDiscoveryResponse>) {
      for (const auto& r : response_.resources()) f(r.resource());
    } else {
      for (const auto& r : response_.resources()) f(r);
    }
  }

  // CDS/LDS names the client holds: SotW responses carry the whole set; Delta ones the changes.
  void UpdateKnown(const std::string& type, const std::set<std::string>& names) {
    if constexpr (std::is_same_v<Response, ads::DeltaDiscoveryResponse>) {
      // Delta: a dependent name per parent resource; removals drop the parent (approximation:
      // the load test never removes clusters or listeners).
      for (const auto& n : names) known_[type].insert(n);
    } else {
      known_[type] = names;
    }
  }

  bool IsSynced() {
    for (const char* type : {kCds, kLds}) {
      if (!types_[type].answered) return false;
    }
    for (const char* type : {kEds, kRds}) {
      auto it = types_.find(type);
      const std::set<std::string>& want = known_[type == std::string(kEds) ? kCds : kLds];
      if (want.empty()) continue;
      if (it == types_.end() || !it->second.answered) return false;
    }
    return true;
  }

  void Subscribe(const std::string& type, const std::set<std::string>& names) {
    TypeState& t = types_[type];
    if (t.requested && names == t.names) return;
    Request request;
    request.set_type_url(type);
    if (!sent_node_) *request.mutable_node() = node_;
    sent_node_ = true;
    if constexpr (std::is_same_v<Request, ads::DeltaDiscoveryRequest>) {
      for (const auto& n : names) {
        if (!t.names.count(n)) request.add_resource_names_subscribe(n);
      }
      for (const auto& n : t.names) {
        if (!names.count(n)) request.add_resource_names_unsubscribe(n);
      }
    } else {
      for (const auto& n : names) request.add_resource_names(n);
      request.set_version_info(t.version);
      request.set_response_nonce(t.nonce);
    }
    if (type == kEds || type == kRds) t.answered = false;  // wait for the answer to these names
    t.names = names;
    t.requested = true;
    Send(std::move(request));
  }

  void Ack(const std::string& type) {
    TypeState& t = types_[type];
    Request request;
    request.set_type_url(type);
    request.set_response_nonce(response_.nonce());
    if constexpr (std::is_same_v<Request, ads::DiscoveryRequest>) {
      t.version = response_.version_info();
      t.nonce = response_.nonce();
      request.set_version_info(t.version);
      for (const auto& n : t.names) request.add_resource_names(n);
    }
    Send(std::move(request));
  }

  void Send(Request request) {
    outbox_.push_back(std::move(request));
    WriteNext();
  }
  void WriteNext() {
    if (writing_ || outbox_.empty()) return;
    writing_ = true;
    this->StartWrite(&outbox_.front());
  }

  Shared& shared_;
  const bool delta_;
  envoy::config::core::v3::Node node_;
  grpc::ClientContext context_;
  Response response_;
  std::recursive_mutex mu_;
  std::deque<Request> outbox_;  // front() is being written while writing_
  bool writing_ = false;
  bool sent_node_ = false;
  bool synced_ = false;
  std::map<std::string, TypeState> types_;
  std::map<std::string, std::set<std::string>> known_;  // kCds: EDS names, kLds: RDS names
  int64_t total_bytes_ = 0, round_bytes_ = 0, ack_ns_ = -1;
  int seen_round_ = -1;
};

using SotwStream = Stream<ads::DiscoveryRequest, ads::DiscoveryResponse>;
using DeltaStream = Stream<ads::DeltaDiscoveryRequest, ads::DeltaDiscoveryResponse>;

// Per-stream accessors without caring about the variant.
struct AnyStream {
  std::unique_ptr<SotwStream> sotw;
  std::unique_ptr<DeltaStream> delta;
  template <typename F>
  auto Do(F&& f) {
    return sotw ? f(*sotw) : f(*delta);
  }
};

template <typename T>
std::string JsonArray(const std::vector<T>& v) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  out << "]";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-xds-load: N simulated proxies on one ADS server"};
  std::string xds;
  int streams = 10, namespaces = 1, apps = 10, connections = 0;
  std::string mode = "delta";
  int sync_timeout_ms = 120000, round_timeout_ms = 10000;
  app.add_option("--xds", xds, "HOST:PORT of the ADS server")->required();
  app.add_option("--streams", streams, "simulated proxies (one ADS stream each)");
  app.add_option("--mode", mode, "sotw | delta | mix (alternate)")
      ->check(CLI::IsMember({"sotw", "delta", "mix"}));
  app.add_option("--namespaces", namespaces, "proxies spread over ns-0..ns-K-1 (1: 'default')");
  app.add_option("--apps", apps, "distinct app labels (replicas of one app share its labels)");
  app.add_option("--connections", connections,
                 "TCP connections the streams share (0: one per stream, like real proxies)");
  app.add_option("--sync-timeout-ms", sync_timeout_ms, "how long to wait for every stream");
  app.add_option("--round-timeout-ms", round_timeout_ms, "how long one round may take");
  CLI11_PARSE(app, argc, argv);

  Shared shared;
  const int channel_count = connections > 0 ? std::min(connections, streams) : streams;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<ads::AggregatedDiscoveryService::Stub>> stubs;
  for (int i = 0; i < channel_count; ++i) {
    grpc::ChannelArguments args;
    // A distinct argument per channel keeps gRPC from sharing one subchannel (connection).
    args.SetInt("weft.xds_load.channel", i);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    channels.push_back(grpc::CreateCustomChannel(xds, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(ads::AggregatedDiscoveryService::NewStub(channels.back()));
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<AnyStream> all(streams);
  for (int i = 0; i < streams; ++i) {
    const std::string ns = namespaces <= 1 ? "default" : "ns-" + std::to_string(i % namespaces);
    const std::string app_name = "app-" + std::to_string(i % apps);
    const std::string ip = "10." + std::to_string(i / 65536 % 256) + "." +
                           std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    const std::string id = "sidecar~" + ip + "~" + app_name + "-" + std::to_string(i) + "." + ns +
                           "~" + ns + ".svc.cluster.local";
    const bool delta = mode == "delta" || (mode == "mix" && i % 2 == 1);
    auto& stub = *stubs[i % channel_count];
    if (delta) {
      all[i].delta = std::make_unique<DeltaStream>(shared, id, ns, app_name, true);
      all[i].delta->Start(stub);
    } else {
      all[i].sotw = std::make_unique<SotwStream>(shared, id, ns, app_name, false);
      all[i].sotw->Start(stub);
    }
  }

  {
    std::unique_lock lock(shared.mu);
    const bool ok = shared.cv.wait_for(lock, std::chrono::milliseconds(sync_timeout_ms),
                                       [&] { return shared.synced + shared.failed >= streams; });
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "{\"event\":\"synced\",\"streams\":%d,\"synced\":%d,\"failed\":%d,\"ms\":%.1f,"
        "\"timed_out\":%s}\n",
        streams, shared.synced, shared.failed, ms, ok ? "false" : "true");
    std::fflush(stdout);
  }
  int64_t setup_bytes = 0;
  for (auto& s : all) setup_bytes += s.Do([](auto& x) { return x.total_bytes(); });
  std::printf("{\"event\":\"setup_bytes\",\"bytes\":%lld}\n", static_cast<long long>(setup_bytes));
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    if (command == "QUIT") break;
    if (command != "MARK") continue;
    Marker marker;
    in >> marker.round >> marker.kind >> marker.value;
    for (auto& s : all) s.Do([](auto& x) { x.BeginRound(); });
    {
      std::lock_guard lock(shared.mu);
      shared.marker = marker;
      shared.seen = 0;
    }
    std::printf("{\"event\":\"marked\",\"round\":%d}\n", marker.round);
    std::fflush(stdout);
    bool all_seen;
    {
      std::unique_lock lock(shared.mu);
      all_seen = shared.cv.wait_for(lock, std::chrono::milliseconds(round_timeout_ms),
                                    [&] { return shared.seen + shared.failed >= streams; });
    }
    // Whatever else the change brings (a Delta CDS or SotW type pushed alongside) arrives within
    // the same push: give it a moment so the bytes are complete.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::vector<int64_t> ack_ns, bytes;
    std::vector<int> is_delta;
    for (auto& s : all) {
      ack_ns.push_back(s.Do([](auto& x) { return x.ack_ns(); }));
      bytes.push_back(s.Do([](auto& x) { return x.round_bytes(); }));
      is_delta.push_back(s.Do([](auto& x) { return x.delta() ? 1 : 0; }));
    }
    int seen;
    {
      std::lock_guard lock(shared.mu);
      seen = shared.seen;
    }
    std::printf(
        "{\"event\":\"round\",\"round\":%d,\"seen\":%d,\"complete\":%s,\"ack_ns\":%s,"
        "\"bytes\":%s,\"delta\":%s}\n",
        marker.round, seen, all_seen ? "true" : "false", JsonArray(ack_ns).c_str(),
        JsonArray(bytes).c_str(), JsonArray(is_delta).c_str());
    std::fflush(stdout);
  }
  // Leaving without closing streams one by one: the process exit ends every connection.
  std::fflush(stdout);
  std::_Exit(0);
}
