#include "control/mesh/mesh_controller.h"

#include <google/protobuf/any.pb.h>

#include <algorithm>
#include <set>
#include <utility>

#include "base/logging.h"
#include "base/status.h"
#include "control/translate/translate.h"
#include "control/translate/view_key.h"

namespace weft::control::mesh {
namespace {

// The kinds the registry and the translator read (translate.h, registry.h).
constexpr const char* kMeshKinds[] = {
    "ServiceEntry",          "WorkloadEntry", "WorkloadGroup",      "VirtualService",
    "DestinationRule",       "Sidecar",       "PeerAuthentication", "AuthorizationPolicy",
    "RequestAuthentication", "Secret"};

template <typename Message>
void Put(xds::Snapshot& snapshot, const char* type_url, const std::string& name,
         const Message& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  snapshot[type_url].resources[name] = any.SerializeAsString();
}

xds::Snapshot ToSnapshot(const translate::XdsResources& resources) {
  xds::Snapshot snapshot;
  // Every type is present even when empty, so a proxy that subscribed to it gets an answer.
  for (const char* type : {xds::kClusterType, xds::kEndpointType, xds::kListenerType,
                           xds::kRouteType, xds::kSecretType}) {
    snapshot[type];
  }
  for (const auto& c : resources.clusters) Put(snapshot, xds::kClusterType, c.name(), c);
  for (const auto& e : resources.endpoints) {
    Put(snapshot, xds::kEndpointType, e.cluster_name(), e);
  }
  for (const auto& l : resources.listeners) Put(snapshot, xds::kListenerType, l.name(), l);
  for (const auto& r : resources.route_configs) Put(snapshot, xds::kRouteType, r.name(), r);
  for (const auto& s : resources.secrets) Put(snapshot, xds::kSecretType, s.name(), s);
  return snapshot;
}

// What the translator needs to know about one connected node.
translate::ProxyIdentity ProxyFor(const std::string& node_id, const NodeIdentity& node,
                                  const WorkloadRegistry& workloads,
                                  const translate::Registry& registry) {
  translate::ProxyIdentity proxy;
  proxy.node_id = node_id;
  proxy.namespace_ = node.namespace_;
  proxy.labels = node.labels;
  proxy.ip = node.ip;
  proxy.locality = node.locality;
  proxy.proxyless_grpc = node.proxyless_grpc;
  // A registered workload gets inbound listeners for the services selecting it.
  proxy.ports = workloads.InboundPorts(node_id, registry);
  if (!node.outbound_address.empty()) proxy.outbound_address = node.outbound_address;
  proxy.capture = node.capture;
  proxy.mtls = node.mtls;
  proxy.upstreams = node.upstreams;
  return proxy;
}

}  // namespace

MeshController::MeshController(event::Dispatcher& dispatcher, Store& store,
                               xds::SnapshotCache& cache,
                               std::chrono::milliseconds registration_grace,
                               std::string registrations_path, std::string vips_path)
    : dispatcher_(dispatcher),
      store_(store),
      cache_(cache),
      workloads_(
          dispatcher, registration_grace, [this] { ScheduleRebuild(); },
          std::move(registrations_path)),
      vips_(std::move(vips_path)) {}

MeshController::~MeshController() {
  *alive_ = false;
  for (Store::WatchId id : watches_) store_.Unwatch(id);
}

absl::Status MeshController::Start() {
  const int64_t revision = store_.Revision();
  for (const char* kind : kMeshKinds) {
    auto id = store_.Watch(Selector{kind, ""}, revision,
                           [this](const WatchEvent&) { ScheduleRebuild(); });
    if (!id.ok()) return id.status();
    watches_.push_back(*id);
  }
  RETURN_IF_ERROR(vips_.Load());
  return workloads_.Restore();
}

void MeshController::AttachTo(xds::AdsServer& server) {
  server.SetStreamHooks([this](const xds::NodeInfo& node) { OnStreamOpened(node); },
                        [this](const std::string& node_id) { OnStreamClosed(node_id); });
}

void MeshController::SetDebounce(std::chrono::milliseconds quiet, std::chrono::milliseconds max) {
  debounce_quiet_ = quiet;
  debounce_max_ = std::max(quiet, max);
}

void MeshController::OnStreamOpened(const xds::NodeInfo& node) {
  dispatcher_.Post([this, alive = alive_, node] {
    if (!*alive) return;
    auto identity = ParseNodeIdentity(node.id, node.metadata_json, node.locality);
    const bool identity_ok = identity.ok();
    if (!identity_ok) {
      // The node still gets a view: the defaults (namespace "default", no labels).
      WEFT_LOG(warn, "mesh: node '{}': {} (using defaults)", node.id,
               std::string(identity.status().message()));
      NodeIdentity defaults;
      defaults.node_id = node.id;
      defaults.locality = node.locality;
      identity = std::move(defaults);
    }
    // gRPC libraries name themselves "gRPC C-core linux", "gRPC Node Pure JS", "gRPC Go", ...: a
    // client that dials xds:/// without Istio's GENERATOR metadata still gets the proxyless view
    // (the sidecar's listeners are of no use to it).
    if (node.user_agent_name.rfind("gRPC", 0) == 0) identity->proxyless_grpc = true;
    ConnectedNode& entry = nodes_[node.id];
    entry.identity = std::move(*identity);
    entry.user_agent = node.user_agent_name;
    entry.version = node.user_agent_version;
    ++entry.streams;
    WEFT_LOG(info, "mesh: {} '{}' connected (namespace {}, ip '{}', {} label(s), agent '{}')",
             entry.identity.proxyless_grpc ? "proxyless gRPC client" : "proxy", node.id,
             entry.identity.namespace_, entry.identity.ip, entry.identity.labels.size(),
             node.user_agent_name);
    // A node whose metadata was refused is served the defaults but not registered. A
    // registration a service selects changes the registry (that service's endpoints, this
    // node's inbound ports): the rebuild brings every view up to date, the fast path below still
    // answers this node at once. One no service selects changes nobody's config (a thousand
    // client-only proxies connecting are no rebuild).
    if (identity_ok && workloads_.Register(entry.identity) &&
        (!input_ || workloads_.SelectedByAny(node.id, input_->registry))) {
      ScheduleRebuild();
    }
    if (!input_) {
      ScheduleRebuild();  // nothing translated yet: the rebuild covers this node
      return;
    }
    // A change waiting out its debounce makes input_ stale: the pending rebuild covers this
    // node (its stream waits for a first snapshot), so it starts on the current config rather
    // than on the one a write the API already acknowledged replaced.
    if (rebuild_scheduled_) return;
    // The store has not changed since input_: join an existing view's snapshot, or translate
    // the new view now.
    AssignView(node.id, entry);
    ViewState& view = views_.at(entry.view_key);
    if (view.snapshot) {
      cache_.SetSharedSnapshot({node.id}, view.snapshot);
    } else {
      std::set<std::string> warnings;
      Publish(view, warnings);
    }
  });
}

void MeshController::OnStreamClosed(const std::string& node_id) {
  dispatcher_.Post([this, alive = alive_, node_id] {
    if (!*alive) return;
    auto it = nodes_.find(node_id);
    if (it == nodes_.end() || --it->second.streams > 0) return;
    // Its last stream is gone: stop translating for it. A reconnect rebuilds its snapshot
    // before answering (the hook runs before the first request is served).
    if (auto view = views_.find(it->second.view_key); view != views_.end()) {
      view->second.nodes.erase(node_id);
      if (view->second.nodes.empty()) views_.erase(view);
    }
    nodes_.erase(it);
    cache_.ClearSnapshot(node_id);
    workloads_.MarkDisconnected(node_id);
  });
}

void MeshController::ScheduleRebuild() {
  if (debounce_quiet_.count() == 0) {
    // Store watches fire inside each write and several streams may open at once: one rebuild
    // per turn of the loop covers them all.
    if (rebuild_scheduled_) return;
    rebuild_scheduled_ = true;
    dispatcher_.Post([this, alive = alive_] {
      if (!*alive) return;
      rebuild_scheduled_ = false;
      Rebuild();
    });
    return;
  }
  // Quiet period after the latest change, bounded by the first one's age.
  const auto now = std::chrono::steady_clock::now();
  if (!rebuild_scheduled_) {
    rebuild_scheduled_ = true;
    first_change_ = now;
  }
  if (!debounce_timer_) {
    debounce_timer_ = dispatcher_.CreateTimer([this] {
      rebuild_scheduled_ = false;
      Rebuild();
    });
  }
  const auto due = std::min(now + debounce_quiet_, first_change_ + debounce_max_);
  debounce_timer_->Enable(std::chrono::ceil<std::chrono::milliseconds>(due - now));
}

void MeshController::AssignView(const std::string& node_id, ConnectedNode& node) {
  translate::ProxyIdentity proxy = ProxyFor(node_id, node.identity, workloads_, input_->registry);
  translate::ProxyIdentity reduced = translate::ViewOf(proxy, label_keys_);
  std::string key = translate::ViewKey(reduced);
  if (key == node.view_key && views_.count(key)) return;
  if (auto old = views_.find(node.view_key); old != views_.end()) {
    old->second.nodes.erase(node_id);
    if (old->second.nodes.empty()) views_.erase(old);
  }
  ViewState& view = views_[key];
  if (!view.identity) {
    view.identity = std::make_shared<const translate::ProxyIdentity>(std::move(reduced));
  }
  view.nodes.insert(node_id);
  node.view_key = std::move(key);
}

void MeshController::Publish(ViewState& view, std::set<std::string>& warnings) {
  translate::XdsResources resources = translate::Translate(*input_, *view.identity);
  warnings.insert(resources.warnings.begin(), resources.warnings.end());
  const std::vector<std::string> ids(view.nodes.begin(), view.nodes.end());
  view.snapshot = cache_.SetSnapshots(ids, ToSnapshot(resources));
  view.warnings = std::move(resources.warnings);
}

void MeshController::Rebuild() {
  const auto started = std::chrono::steady_clock::now();
  ++rebuilds_;
  if (nodes_.empty()) {
    input_.reset();  // stale from now on: the next node to connect triggers a rebuild
    return;
  }
  auto input = std::make_shared<translate::Snapshot>();
  for (const char* kind : kMeshKinds) {
    auto listed = store_.List(Selector{kind, ""});
    if (!listed.ok()) {
      // Keep serving the last snapshots rather than pushing a partial view.
      WEFT_LOG(error, "mesh: cannot list {}: {}", kind, std::string(listed.status().message()));
      return;
    }
    for (auto& item : listed->items) input->resources.push_back(std::move(item));
  }
  const auto listed_at = std::chrono::steady_clock::now();
  input->registry = translate::BuildRegistry(input->resources);
  workloads_.AddTo(input->registry);
  vips_.Assign(input->registry);
  input->mesh = mesh_config_;
  label_keys_ = translate::SelectorLabelKeys(input->resources);
  // The previous input is freed after the pushes are scheduled, not before (1000 services'
  // worth of JSON and registry take tens of milliseconds to free).
  dispatcher_.Post([old = std::exchange(input_, std::move(input))] {});

  // The label keys selectors mention may have changed: regroup, then translate each view once.
  for (auto& [node_id, node] : nodes_) AssignView(node_id, node);
  std::set<std::string> warnings;
  for (auto& [key, view] : views_) Publish(view, warnings);
  std::vector<std::string> sorted(warnings.begin(), warnings.end());
  if (sorted != last_warnings_) {
    for (const std::string& w : sorted) WEFT_LOG(warn, "mesh: {}", w);
    last_warnings_ = std::move(sorted);
  }
  WEFT_LOG(debug,
           "mesh: rebuilt {} node(s) in {} view(s) from {} resource(s) at revision {} in {} ms "
           "({} ms listing the store)",
           nodes_.size(), views_.size(), input_->resources.size(), store_.Revision(),
           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started)
               .count(),
           std::chrono::duration_cast<std::chrono::milliseconds>(listed_at - started).count());
}

std::optional<MeshController::ProxySummary> MeshController::Proxy(
    const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  auto view = views_.find(it->second.view_key);
  return ProxySummary{it->second.identity,
                      view != views_.end() ? view->second.warnings : std::vector<std::string>{},
                      it->second.user_agent, it->second.version};
}

}  // namespace weft::control::mesh
