#include "proxy/xds/xds_client.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "base/logging.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "proxy/config/text.h"
#include "proxy/config/translate.h"
#include "proxy/server/server.h"
#include "proxy/xds/delta_state.h"
#include "security/openssl_util.h"
#include "weft_version.h"

namespace weft::proxy {
namespace {

namespace discovery = envoy::service::discovery::v3;

constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
constexpr char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
// SDS over ADS: the secrets TLS contexts name other than the identity agent's (credentialName).
constexpr char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Reconnect back-off: Envoy's defaults for the xDS stream (500 ms base, 30 s max), with jitter.
constexpr std::chrono::milliseconds kBackoffBase{500};
constexpr std::chrono::milliseconds kBackoffMax{30000};

// The result of applying one response, from the main thread to the stream's thread.
struct Verdict {
  absl::Status status;
  std::vector<std::string> eds_names;
  std::vector<std::string> rds_names;
  std::vector<std::string> sds_names;
};

// Unpacks every resource of a response into `Proto`, keyed by `name_of`; the error names the
// offending resource.
template <typename Proto, typename NameOf>
absl::StatusOr<std::map<std::string, std::pair<Proto, std::string>>> Unpack(
    const discovery::DiscoveryResponse& response, const char* kind, NameOf name_of) {
  std::map<std::string, std::pair<Proto, std::string>> out;
  for (int i = 0; i < response.resources_size(); ++i) {
    const auto& any = response.resources(i);
    Proto proto;
    if (any.type_url() != response.type_url() || !any.UnpackTo(&proto)) {
      return absl::InvalidArgumentError(
          config::Cat("resources[", i, "]: not a ", kind, " (", any.type_url(), ")"));
    }
    std::string name = name_of(proto);
    if (name.empty()) {
      return absl::InvalidArgumentError(
          config::Cat("resources[", i, "]: ", kind, " without a name"));
    }
    if (out.count(name)) {
      return absl::InvalidArgumentError(config::Cat(kind, " '", name, "': duplicate name"));
    }
    std::string bytes = any.value();
    out.emplace(std::move(name), std::make_pair(std::move(proto), std::move(bytes)));
  }
  return out;
}

absl::Status Named(const char* kind, const std::string& name, const absl::Status& st) {
  return absl::Status(st.code(), config::Cat(kind, " '", name, "': ", st.message()));
}

}  // namespace

class XdsClient::Impl : public std::enable_shared_from_this<XdsClient::Impl> {
 public:
  Impl(Server& server, const config::BootstrapConfig& bootstrap)
      : server_(server), xds_(bootstrap.xds) {
    node_.set_id(bootstrap.node.id);
    node_.set_cluster(bootstrap.node.cluster);
    // Envoy's Node fields for "who is this": weftd shows them per proxy (`weftctl version`).
    node_.set_user_agent_name("weft-proxy");
    auto* build_version = node_.mutable_user_agent_build_version()->mutable_version();
    build_version->set_major_number(kVersionMajor);
    build_version->set_minor_number(kVersionMinor);
    build_version->set_patch(kVersionPatch);
    if (!xds_.node_metadata_json.empty()) {
      (void)google::protobuf::util::JsonStringToMessage(xds_.node_metadata_json,
                                                        node_.mutable_metadata());
    }
    auto* locality = node_.mutable_locality();
    locality->set_region(bootstrap.node.locality_region);
    locality->set_zone(bootstrap.node.locality_zone);
    locality->set_sub_zone(bootstrap.node.locality_sub_zone);
    for (const auto& l : bootstrap.listeners) static_listeners_.insert(l.name);
    for (const auto& c : bootstrap.clusters) static_clusters_.insert(c->name);
    // Subscriptions the bootstrap already implies (static EDS clusters, static rds listeners).
    names_[kEndpointType] = server_.EdsServiceNames();
    names_[kRouteType] = server_.RdsRouteNames();
    names_[kSecretType] = server_.SdsSecretNames();
  }

  void Start() {
    UpdateDump();
    thread_ = std::thread([self = shared_from_this()] { self->Run(); });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      if (context_) context_->TryCancel();
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  // ---- The stream's thread. ----
  // Plaintext, or TLS verified against the ADS cluster's trusted CA when its transport_socket
  // says so (bootstrap_loader.cc, AdsClusterTls).
  std::shared_ptr<grpc::Channel> MakeChannel() const {
    if (!xds_.tls) return grpc::CreateChannel(xds_.target, grpc::InsecureChannelCredentials());
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = xds_.tls_root_pem;
    tls.pem_cert_chain = xds_.tls_cert_chain_pem;
    tls.pem_private_key = xds_.tls_private_key_pem;
    grpc::ChannelArguments args;
    // The name the server's certificate must carry, as Envoy verifies an upstream against its
    // SNI: Istio's sidecars dial istiod's address and check istiod.istio-system.svc.
    if (!xds_.tls_sni.empty()) args.SetSslTargetNameOverride(xds_.tls_sni);
    return grpc::CreateCustomChannel(xds_.target, grpc::SslCredentials(tls), args);
  }

  // The workload's token (--ca-token-file, re-read now: it may have been rotated) as
  // `authorization: Bearer`, so weftd knows the stream's namespace and serves its Secrets. Only
  // over TLS: a token in the clear could be replayed by whoever sees it.
  void AddToken(grpc::ClientContext& context) const {
    if (!xds_.tls || xds_.token_path.empty()) return;
    absl::StatusOr<std::string> token = security::ReadTokenFile(xds_.token_path);
    if (!token.ok()) {
      WEFT_LOG(warn, "xds: {}: the stream is not authenticated (no Secrets)",
               token.status().message());
      return;
    }
    context.AddMetadata("authorization", "Bearer " + *token);
  }

  void Run() {
    int attempt = 0;
    std::mt19937_64 rng(std::random_device{}());
    while (!stopped()) {
      auto channel = MakeChannel();
      auto stub = discovery::AggregatedDiscoveryService::NewStub(channel);
      auto context = std::make_shared<grpc::ClientContext>();
      AddToken(*context);
      {
        std::lock_guard lock(mu_);
        if (stop_) break;
        context_ = context;
      }
      grpc::Status status;
      bool got_response = false;
      if (xds_.delta) {
        auto stream = stub->DeltaAggregatedResources(context.get());
        got_response = RunDeltaStream(*stream);
        context->TryCancel();
        status = stream->Finish();
      } else {
        auto stream = stub->StreamAggregatedResources(context.get());
        got_response = RunSotwStream(*stream);
        context->TryCancel();
        status = stream->Finish();
      }
      {
        std::lock_guard lock(mu_);
        context_.reset();
      }
      PostConnected(false);
      if (stopped()) break;
      if (got_response) attempt = 0;
      auto backoff = std::min(kBackoffMax, kBackoffBase * (1 << std::min(attempt, 6)));
      ++attempt;
      // Full jitter over the upper half: many proxies do not come back in lockstep.
      std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
      const auto wait = std::chrono::milliseconds(jitter(rng));
      WEFT_LOG(warn, "xds: stream to {} ended ({}): retrying in {} ms", xds_.target,
               status.error_message().empty() ? "closed" : status.error_message(), wait.count());
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, wait, [this] { return stop_; });
    }
  }

  // The EDS, RDS and SDS subscriptions follow the clusters and listeners: after each applied
  // update, `resubscribe(type, before, after)` for each of the three whose names changed.
  template <typename Resubscribe>
  void FollowSubscriptions(const Verdict& verdict, Resubscribe resubscribe) {
    for (const auto& [type, names] :
         {std::pair{kEndpointType, &verdict.eds_names}, std::pair{kRouteType, &verdict.rds_names},
          std::pair{kSecretType, &verdict.sds_names}}) {
      if (*names == names_[type]) continue;
      std::vector<std::string> before = std::move(names_[type]);
      names_[type] = *names;
      resubscribe(type, before, *names);
    }
  }

  // Applies a type's full state (a SotW response, or a Delta one merged) on the main thread.
  std::optional<Verdict> ApplyResponse(discovery::DiscoveryResponse response, bool& got_response) {
    if (!got_response) PostConnected(true);
    got_response = true;
    return ApplyOnMainThread(
        std::make_shared<const discovery::DiscoveryResponse>(std::move(response)));
  }

  using SotwStream =
      grpc::ClientReaderWriterInterface<discovery::DiscoveryRequest, discovery::DiscoveryResponse>;

  // State of the world: every request names the whole subscription; an ACK echoes the version
  // and nonce. Returns whether any response arrived (the server was reachable).
  bool RunSotwStream(SotwStream& stream) {
    auto send = [&](const std::string& type, const std::string& error) {
      discovery::DiscoveryRequest request;
      *request.mutable_node() = node_;  // every message: cheap, and simplest for servers
      request.set_type_url(type);
      request.set_version_info(versions_[type]);
      request.set_response_nonce(nonces_[type]);
      for (const auto& name : names_[type]) request.add_resource_names(name);
      if (!error.empty()) {
        request.mutable_error_detail()->set_code(grpc::StatusCode::INVALID_ARGUMENT);
        request.mutable_error_detail()->set_message(error);
      }
      return stream.Write(request);
    };
    // A new stream starts without nonces; the versions say what this proxy already has.
    nonces_.clear();
    if (xds_.cds) send(kClusterType, "");
    if (!names_[kEndpointType].empty()) send(kEndpointType, "");
    if (xds_.lds) send(kListenerType, "");
    if (!names_[kRouteType].empty()) send(kRouteType, "");
    if (!names_[kSecretType].empty()) send(kSecretType, "");

    bool got_response = false;
    discovery::DiscoveryResponse response;
    while (stream.Read(&response)) {
      const std::string type = response.type_url();
      const std::string nonce = response.nonce();
      const std::string version = response.version_info();
      std::optional<Verdict> verdict = ApplyResponse(std::move(response), got_response);
      if (!verdict) return got_response;  // stopping
      nonces_[type] = nonce;
      if (verdict->status.ok()) versions_[type] = version;
      send(type, verdict->status.ok() ? "" : std::string(verdict->status.message()));
      FollowSubscriptions(*verdict, [&](const std::string& changed, const auto&, const auto&) {
        send(changed, "");
      });
      response.Clear();
    }
    return got_response;
  }

  // The names that came and went between two (sorted) subscriptions, as a Delta request; what
  // the client held of the names that went is forgotten, as the server forgets it.
  discovery::DeltaDiscoveryRequest DeltaResubscription(const std::string& type,
                                                       const std::vector<std::string>& before,
                                                       const std::vector<std::string>& after) {
    discovery::DeltaDiscoveryRequest request;
    request.set_type_url(type);
    std::vector<std::string> came, gone;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(came));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(gone));
    for (const auto& name : came) request.add_resource_names_subscribe(name);
    for (const auto& name : gone) request.add_resource_names_unsubscribe(name);
    delta_[type].Forget(gone);
    return request;
  }

  using DeltaStream = grpc::ClientReaderWriterInterface<discovery::DeltaDiscoveryRequest,
                                                        discovery::DeltaDiscoveryResponse>;

  // Incremental: CDS and LDS are wildcard subscriptions, EDS and RDS name what they want and
  // change by resource_names_subscribe/unsubscribe; responses carry only what changed, merged
  // here onto what is held (delta_state.h) and applied like a SotW response. An ACK or NACK
  // echoes the response's nonce. A new stream sends initial_resource_versions, so the server
  // resends only what changed meanwhile (and removes what went away).
  bool RunDeltaStream(DeltaStream& stream) {
    auto send = [&](discovery::DeltaDiscoveryRequest& request) {
      *request.mutable_node() = node_;  // as in SotW: every message
      return stream.Write(request);
    };
    auto subscribe = [&](const std::string& type) {
      discovery::DeltaDiscoveryRequest request;
      request.set_type_url(type);
      // CDS and LDS: no names, the legacy wildcard (every server takes it).
      if (type == kEndpointType || type == kRouteType || type == kSecretType) {
        for (const auto& name : names_[type]) request.add_resource_names_subscribe(name);
      }
      for (const auto& [name, version] : delta_[type].Versions()) {
        (*request.mutable_initial_resource_versions())[name] = version;
      }
      send(request);
    };
    if (xds_.cds) subscribe(kClusterType);
    if (!names_[kEndpointType].empty()) subscribe(kEndpointType);
    if (xds_.lds) subscribe(kListenerType);
    if (!names_[kRouteType].empty()) subscribe(kRouteType);
    if (!names_[kSecretType].empty()) subscribe(kSecretType);

    bool got_response = false;
    discovery::DeltaDiscoveryResponse response;
    while (stream.Read(&response)) {
      xds::DeltaTypeState& state = delta_[response.type_url()];
      // What the server sent (after a reconnect: only what changed since initial_versions).
      WEFT_LOG(info, "xds: delta {} {}: {} resource(s) changed, {} removed", response.type_url(),
               response.system_version_info(), response.resources_size(),
               response.removed_resources_size());
      auto merged = state.Merge(response);
      std::optional<Verdict> verdict;
      if (merged.ok()) {
        verdict = ApplyResponse(std::move(merged->full), got_response);
        if (!verdict) return got_response;  // stopping
        // ACKed or NACKed, the server now counts on the client holding this (delta_state.h).
        state.Commit(std::move(merged->held));
      } else {
        // Malformed at the protocol level: nothing to apply, and the subscriptions stand.
        WEFT_LOG(warn, "xds: rejected delta {}: {}", response.type_url(),
                 merged.status().message());
        verdict = Verdict{merged.status(), names_[kEndpointType], names_[kRouteType],
                          names_[kSecretType]};
      }
      discovery::DeltaDiscoveryRequest ack;
      ack.set_type_url(response.type_url());
      ack.set_response_nonce(response.nonce());
      if (!verdict->status.ok()) {
        ack.mutable_error_detail()->set_code(grpc::StatusCode::INVALID_ARGUMENT);
        ack.mutable_error_detail()->set_message(std::string(verdict->status.message()));
      }
      send(ack);
      FollowSubscriptions(
          *verdict, [&](const std::string& type, const auto& before, const auto& after) {
            discovery::DeltaDiscoveryRequest request = DeltaResubscription(type, before, after);
            send(request);
          });
      response.Clear();
    }
    return got_response;
  }

  std::optional<Verdict> ApplyOnMainThread(
      std::shared_ptr<const discovery::DiscoveryResponse> response) {
    auto promise = std::make_shared<std::promise<Verdict>>();
    std::future<Verdict> future = promise->get_future();
    server_.dispatcher().Post([self = shared_from_this(), response, promise] {
      promise->set_value(self->Apply(*response));
    });
    while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (stopped()) return std::nullopt;
    }
    return future.get();
  }

  void PostConnected(bool connected) {
    server_.dispatcher().Post([self = shared_from_this(), connected] {
      self->connected_ = connected;
      self->server_.main_stats().gauge("control_plane.connected_state").Set(connected ? 1 : 0);
      self->UpdateDump();
    });
  }

  bool stopped() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  // ---- The main thread. ----
  Verdict Apply(const discovery::DiscoveryResponse& response) {
    const std::string& type = response.type_url();
    std::string stat;
    absl::Status status;
    if (type == kClusterType) {
      stat = "cluster_manager.cds.";
      status = ApplyClusters(response);
    } else if (type == kEndpointType) {
      stat = "cluster_manager.eds.";
      status = ApplyEndpoints(response);
    } else if (type == kListenerType) {
      stat = "listener_manager.lds.";
      status = ApplyListeners(response);
    } else if (type == kRouteType) {
      stat = "http.rds.";
      status = ApplyRoutes(response);
    } else if (type == kSecretType) {
      status = ApplySecrets(response);
    } else {
      status = absl::InvalidArgumentError(config::Cat("unsupported type ", type));
    }
    if (!stat.empty()) {
      stats::Store& stats = server_.main_stats();
      stats.counter(stat + "update_attempt").Inc();
      stats.counter(stat + (status.ok() ? "update_success" : "update_rejected")).Inc();
    }
    TypeState& state = types_[type];
    state.attempted_version = response.version_info();
    if (status.ok()) {
      state.version = response.version_info();
      state.error.clear();
      WEFT_LOG(info, "xds: accepted {} version {}", type, response.version_info());
    } else {
      state.error = std::string(status.message());
      WEFT_LOG(warn, "xds: rejected {} version {}: {}", type, response.version_info(),
               status.message());
    }
    UpdateDump();
    return Verdict{status, server_.EdsServiceNames(), server_.RdsRouteNames(),
                   server_.SdsSecretNames()};
  }

  absl::Status ApplyClusters(const discovery::DiscoveryResponse& response) {
    ASSIGN_OR_RETURN(auto incoming,
                     Unpack<envoy::config::cluster::v3::Cluster>(
                         response, "cluster", [](const auto& c) { return c.name(); }));
    std::vector<std::shared_ptr<const upstream::ClusterConfig>> updated;
    auto& applied = types_[kClusterType].applied;
    for (const auto& [name, entry] : incoming) {
      if (static_clusters_.count(name)) {
        return absl::InvalidArgumentError(
            config::Cat("cluster '", name, "': a static_resources cluster has this name"));
      }
      auto translated = config::TranslateCluster(entry.first);
      if (!translated.ok()) return Named("cluster", name, translated.status());
      auto known = applied.find(name);
      if (known != applied.end() && known->second == entry.second) continue;  // unchanged
      updated.push_back(std::make_shared<const upstream::ClusterConfig>(std::move(*translated)));
    }
    std::vector<std::string> removed;
    for (const auto& [name, bytes] : applied) {
      if (!incoming.count(name)) removed.push_back(name);
    }
    RETURN_IF_ERROR(server_.UpdateClusters(std::move(updated), removed));
    applied.clear();
    for (auto& [name, entry] : incoming) applied[name] = std::move(entry.second);
    return absl::OkStatus();
  }

  absl::Status ApplyEndpoints(const discovery::DiscoveryResponse& response) {
    ASSIGN_OR_RETURN(auto incoming, Unpack<envoy::config::endpoint::v3::ClusterLoadAssignment>(
                                        response, "cluster_load_assignment",
                                        [](const auto& c) { return c.cluster_name(); }));
    std::map<std::string, std::vector<upstream::LocalityEndpoints>> by_service;
    for (const auto& [name, entry] : incoming) {
      auto translated = config::TranslateClusterLoadAssignment(entry.first);
      if (!translated.ok()) return Named("cluster_load_assignment", name, translated.status());
      by_service[name] = std::move(*translated);
    }
    RETURN_IF_ERROR(server_.UpdateEndpoints(std::move(by_service)));
    // A SotW EDS response need not repeat the assignments that did not change (only LDS and
    // CDS responses are complete, per the xDS protocol's "Grouping Resources into Responses"):
    // merge, and forget only what no cluster asks for any more.
    auto& applied = types_[kEndpointType].applied;
    for (auto& [name, entry] : incoming) applied[name] = std::move(entry.second);
    const std::vector<std::string> wanted = server_.EdsServiceNames();
    for (auto it = applied.begin(); it != applied.end();) {
      it = std::binary_search(wanted.begin(), wanted.end(), it->first) ? std::next(it)
                                                                       : applied.erase(it);
    }
    return absl::OkStatus();
  }

  absl::Status ApplyListeners(const discovery::DiscoveryResponse& response) {
    ASSIGN_OR_RETURN(auto incoming,
                     Unpack<envoy::config::listener::v3::Listener>(
                         response, "listener", [](const auto& l) { return l.name(); }));
    std::vector<listener::ListenerConfig> updated;
    auto& applied = types_[kListenerType].applied;
    for (const auto& [name, entry] : incoming) {
      if (static_listeners_.count(name)) {
        return absl::InvalidArgumentError(
            config::Cat("listener '", name, "': a static_resources listener has this name"));
      }
      auto translated = config::TranslateListener(entry.first);
      if (!translated.ok()) return Named("listener", name, translated.status());
      auto known = applied.find(name);
      if (known != applied.end() && known->second == entry.second) continue;
      updated.push_back(std::move(*translated));
    }
    std::vector<std::string> removed;
    for (const auto& [name, bytes] : applied) {
      if (!incoming.count(name)) removed.push_back(name);
    }
    std::set<std::string> failed;
    absl::Status st = server_.UpdateListeners(std::move(updated), removed, &failed);
    // Listeners that did apply serve even if another one failed (a port in use, say): remember
    // them; a failed one keeps what it had, so the next update retries it.
    std::map<std::string, std::string> now;
    for (auto& [name, entry] : incoming) {
      if (!failed.count(name)) {
        now[name] = std::move(entry.second);
      } else if (auto old = applied.find(name); old != applied.end()) {
        now[name] = std::move(old->second);
      }
    }
    applied = std::move(now);
    return st;
  }

  absl::Status ApplyRoutes(const discovery::DiscoveryResponse& response) {
    ASSIGN_OR_RETURN(auto incoming,
                     Unpack<envoy::config::route::v3::RouteConfiguration>(
                         response, "route_configuration", [](const auto& r) { return r.name(); }));
    std::map<std::string, std::shared_ptr<const router::RouteConfiguration>> routes;
    for (const auto& [name, entry] : incoming) {
      auto translated = config::TranslateRouteConfiguration(entry.first);
      if (!translated.ok()) return Named("route_configuration", name, translated.status());
      auto known = types_[kRouteType].applied.find(name);
      if (known != types_[kRouteType].applied.end() && known->second == entry.second) continue;
      routes[name] = std::make_shared<const router::RouteConfiguration>(std::move(*translated));
    }
    RETURN_IF_ERROR(server_.UpdateRoutes(std::move(routes)));
    auto& applied = types_[kRouteType].applied;
    for (auto& [name, entry] : incoming) applied[name] = std::move(entry.second);
    return absl::OkStatus();
  }

  // SDS secrets: each changed one goes to its TLS contexts (a new SSL_CTX for new connections).
  // As for EDS, a SotW response need not repeat unchanged secrets: merge. A secret the server
  // stops sending keeps serving its last value (the key stays in memory only, never dumped).
  absl::Status ApplySecrets(const discovery::DiscoveryResponse& response) {
    using envoy::extensions::transport_sockets::tls::v3::Secret;
    ASSIGN_OR_RETURN(auto incoming,
                     Unpack<Secret>(response, "secret", [](const auto& s) { return s.name(); }));
    std::vector<std::pair<std::string, config::SdsSecret>> changed;
    auto& applied = types_[kSecretType].applied;
    for (const auto& [name, entry] : incoming) {
      auto translated = config::TranslateSecret(entry.first);
      if (!translated.ok()) return Named("secret", name, translated.status());
      auto known = applied.find(name);
      if (known != applied.end() && known->second == entry.second) continue;
      changed.emplace_back(name, std::move(*translated));
    }
    for (auto& [name, secret] : changed) {
      if (secret.certificate) server_.secrets().SetFromAds(name, *secret.certificate);
      if (secret.validation) server_.secrets().SetFromAds(name, *secret.validation);
      // Envoy's per-secret SDS counter (SdsApi's stats, scope "sds.<secret name>.").
      server_.main_stats().counter("sds." + name + ".update_success").Inc();
      WEFT_LOG(info, "xds: secret '{}' {}", name,
               applied.count(name) ? "updated" : "received");  // the name only
    }
    for (auto& [name, entry] : incoming) applied[name] = std::move(entry.second);
    return absl::OkStatus();
  }

  // /config_dump's "dynamic" part: per type, the accepted version, the resources, and the last
  // rejected update's error (Envoy's error_state).
  void UpdateDump() {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, state] : types_) {
      nlohmann::json names = nlohmann::json::array();
      for (const auto& [name, bytes] : state.applied) names.push_back(name);
      nlohmann::json entry = {{"version_info", state.version}, {"resource_names", names}};
      if (!state.error.empty()) {
        entry["last_update_attempt"] = {{"version_info", state.attempted_version},
                                        {"error_state", {{"details", state.error}}}};
      }
      types[type] = std::move(entry);
    }
    nlohmann::json dump = {{"ads_target", xds_.target},
                           {"api_type", xds_.delta ? "DELTA_GRPC" : "GRPC"},
                           {"node_id", node_.id()},
                           {"connected", connected_},
                           {"types", types}};
    server_.SetDynamicConfigDump(dump.dump());
  }

  Server& server_;
  const config::XdsConfig xds_;
  envoy::config::core::v3::Node node_;
  std::set<std::string> static_listeners_, static_clusters_;

  // Main thread.
  struct TypeState {
    std::string version, attempted_version, error;
    std::map<std::string, std::string> applied;  // name -> serialized resource last applied
  };
  std::map<std::string, TypeState> types_;
  bool connected_ = false;

  // Stream thread (names_ is seeded on the main thread before the thread starts). names_ are
  // sorted (the Server's EdsServiceNames/RdsRouteNames come from sets).
  std::map<std::string, std::string> versions_, nonces_;  // SotW
  std::map<std::string, std::vector<std::string>> names_;
  std::map<std::string, xds::DeltaTypeState> delta_;  // Delta: what each type holds

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::shared_ptr<grpc::ClientContext> context_;
  std::thread thread_;
};

XdsClient::XdsClient(Server& server, const config::BootstrapConfig& bootstrap)
    : impl_(std::make_shared<Impl>(server, bootstrap)) {}

XdsClient::~XdsClient() { impl_->Stop(); }

void XdsClient::Start() { impl_->Start(); }

}  // namespace weft::proxy
