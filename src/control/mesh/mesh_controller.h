// What joins weftd's parts into a mesh: the store's resources, through the translator, into the
// SnapshotCache the ADS server serves.
//
// On weftd's main dispatcher (the store is single-threaded): whenever a proxy's stream opens or
// closes (AdsServer hooks, which run on gRPC threads and only Post here) and whenever the store
// changes (Store::Watch on every Istio kind the translator reads), a rebuild is scheduled; one
// rebuild lists the stored resources, builds the registry once, groups the connected nodes by
// view (translate/view_key.h: the identity fields the translator reads, so replicas share one)
// and translates each view once, its snapshot stored once in the cache and shared by the view's
// nodes. The cache compares content, so only nodes whose resources changed are woken.
//
// Debounce lives here, not in the ADS server: a burst of applies is one rebuild (translation is
// the expensive part, and debouncing after it would still translate every apply), after which
// every affected stream pushes at once. Istio's istiod does the same before computing a push
// (PILOT_DEBOUNCE_AFTER 100 ms of quiet, PILOT_DEBOUNCE_MAX). A proxy connecting to an existing
// view gets that view's snapshot at once, without a rebuild; a new view is translated from the
// last rebuild's input right away.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "control/mesh/node_identity.h"
#include "control/mesh/vip_allocator.h"
#include "control/mesh/workload_registry.h"
#include "control/store/store.h"
#include "control/translate/mesh_config.h"
#include "control/xds/ads_server.h"
#include "control/xds/snapshot_cache.h"
#include "event/dispatcher.h"

namespace weft::control::translate {
struct ProxyIdentity;  // translate.h (kept out of this header: it brings protobuf)
struct Snapshot;
}  // namespace weft::control::translate

namespace weft::control::mesh {

class MeshController {
 public:
  // `registration_grace`: how long a self-registered workload stays an endpoint after its
  // proxy's last stream closed; `registrations_path`: where registrations are kept across
  // restarts, "" for nowhere (workload_registry.h); `vips_path`: where allocated service VIPs are
  // kept across restarts, "" for nowhere (vip_allocator.h).
  MeshController(event::Dispatcher& dispatcher, Store& store, xds::SnapshotCache& cache,
                 std::chrono::milliseconds registration_grace = kDefaultRegistrationGrace,
                 std::string registrations_path = "", std::string vips_path = "");
  ~MeshController();

  // Watches the store and restores saved registrations and VIPs; call once, on the dispatcher's
  // thread, before the ADS server starts.
  absl::Status Start();
  // Before Start(): wait for `quiet` without store changes before rebuilding, but no longer than
  // `max` after the first change. Zero (the default): rebuild on the next turn of the loop.
  void SetDebounce(std::chrono::milliseconds quiet, std::chrono::milliseconds max);
  // Before Start(): the mesh-wide settings (weftd --mesh-config) every translation uses.
  void SetMeshConfig(translate::MeshConfig config) { mesh_config_ = std::move(config); }
  // Installs this controller's hooks on `server` (before server.Start()).
  void AttachTo(xds::AdsServer& server);

  // Thread-safe: post to the dispatcher.
  void OnStreamOpened(const xds::NodeInfo& node);
  void OnStreamClosed(const std::string& node_id);

  // Dispatcher thread only. Rebuilds every connected node's snapshot now.
  void Rebuild();
  size_t rebuilds() const { return rebuilds_; }
  // The workloads proxies registered by connecting (dispatcher thread; for diagnostics).
  const WorkloadRegistry& workloads() const { return workloads_; }
  // The service VIPs allocated so far (dispatcher thread; for diagnostics and tests).
  const VipAllocator& vips() const { return vips_; }

  // Dispatcher thread only. A connected proxy's identity and the translator's warnings for its
  // last snapshot (weftd's debug API); nullopt for a node with no open stream.
  struct ProxySummary {
    NodeIdentity identity;
    std::vector<std::string> warnings;
    std::string user_agent;  // node.user_agent_name ("weft-proxy", "envoy", a gRPC library's)
    std::string version;     // node.user_agent_build_version, "" when absent
  };
  std::optional<ProxySummary> Proxy(const std::string& node_id) const;
  // Distinct views among the connected nodes (after the last rebuild or connect).
  size_t views() const { return views_.size(); }

 private:
  struct ConnectedNode {
    NodeIdentity identity;
    std::string user_agent, version;  // from the node's last stream
    int streams = 0;
    std::string view_key;  // into views_
  };
  struct ViewState {
    std::shared_ptr<const translate::ProxyIdentity> identity;  // reduced: what it translates
    std::set<std::string> nodes;
    std::shared_ptr<const xds::Snapshot> snapshot;  // as stored in the cache
    std::vector<std::string> warnings;              // of its last translation
  };
  void ScheduleRebuild();
  // Puts the node in the view its identity maps to (with the current label keys).
  void AssignView(const std::string& node_id, ConnectedNode& node);
  // Translates `view` from input_ and stores its snapshot for its nodes.
  void Publish(ViewState& view, std::set<std::string>& warnings);

  event::Dispatcher& dispatcher_;
  Store& store_;
  xds::SnapshotCache& cache_;
  std::vector<Store::WatchId> watches_;
  std::map<std::string, ConnectedNode> nodes_;  // by node id
  WorkloadRegistry workloads_;
  VipAllocator vips_;
  std::map<std::string, ViewState> views_;  // by translate::ViewKey
  // The last rebuild's input, for views that appear between rebuilds; null before the first.
  std::shared_ptr<const translate::Snapshot> input_;
  std::set<std::string> label_keys_;  // translate::SelectorLabelKeys(input_->resources)
  std::chrono::milliseconds debounce_quiet_{0}, debounce_max_{0};
  translate::MeshConfig mesh_config_;
  std::unique_ptr<event::Timer> debounce_timer_;
  event::MonotonicTime first_change_{};
  bool rebuild_scheduled_ = false;
  size_t rebuilds_ = 0;
  std::vector<std::string> last_warnings_;
  // Cleared on destruction so callbacks already posted do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace weft::control::mesh
