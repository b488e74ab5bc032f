// What joins weftd's parts into a mesh: the store's resources, through the translator, into the
// SnapshotCache the ADS server serves.
//
// On weftd's main dispatcher (the store is single-threaded): whenever a proxy's stream opens or
// closes (AdsServer hooks, which run on gRPC threads and only Post here) and whenever the store
// changes (Store::Watch on every Istio kind the translator reads), a rebuild is scheduled; one
// rebuild lists the stored resources, builds the registry once, and for each connected node
// translates its view and sets its snapshot. The cache compares content, so only nodes whose
// resources changed are woken (and the ADS server debounces those pushes).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "control/mesh/node_identity.h"
#include "control/mesh/workload_registry.h"
#include "control/store/store.h"
#include "control/xds/ads_server.h"
#include "control/xds/snapshot_cache.h"
#include "event/dispatcher.h"

namespace weft::control::mesh {

class MeshController {
 public:
  // `registration_grace`: how long a self-registered workload stays an endpoint after its
  // proxy's last stream closed; `registrations_path`: where registrations are kept across
  // restarts, "" for nowhere (workload_registry.h).
  MeshController(event::Dispatcher& dispatcher, Store& store, xds::SnapshotCache& cache,
                 std::chrono::milliseconds registration_grace = kDefaultRegistrationGrace,
                 std::string registrations_path = "");
  ~MeshController();

  // Watches the store and restores saved registrations; call once, on the dispatcher's thread,
  // before the ADS server starts.
  absl::Status Start();
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

  // Dispatcher thread only. A connected proxy's identity and the translator's warnings for its
  // last snapshot (weftd's debug API); nullopt for a node with no open stream.
  struct ProxySummary {
    NodeIdentity identity;
    std::vector<std::string> warnings;
  };
  std::optional<ProxySummary> Proxy(const std::string& node_id) const;

 private:
  struct ConnectedNode {
    NodeIdentity identity;
    int streams = 0;
    std::vector<std::string> warnings;  // of its last translation
  };
  void ScheduleRebuild();

  event::Dispatcher& dispatcher_;
  Store& store_;
  xds::SnapshotCache& cache_;
  std::vector<Store::WatchId> watches_;
  std::map<std::string, ConnectedNode> nodes_;  // by node id
  WorkloadRegistry workloads_;
  bool rebuild_scheduled_ = false;
  size_t rebuilds_ = 0;
  std::vector<std::string> last_warnings_;
  // Cleared on destruction so callbacks already posted do nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace weft::control::mesh
