// Workloads that registered themselves by connecting: when a proxy's ADS stream opens, weftd
// records the workload it fronts (from its node metadata, node_identity.h) and makes it an
// endpoint of every ServiceEntry whose workloadSelector matches it, like Istio's WorkloadEntry
// auto-registration (istio pilot/pkg/autoregistration/controller.go) but kept in memory rather
// than written to the store: the proxy's stream is the source of truth, and a weftd restart
// learns the workload again as soon as the proxy reconnects.
//
// Lifecycle: Register on a stream's open (again on every reconnect), MarkDisconnected when the
// node's last stream closes; the workload stays an endpoint for the grace period (Istio's
// PILOT_WORKLOAD_ENTRY_GRACE_PERIOD, 10s by default, pilot/pkg/features/pilot.go) and leaves
// after it, unless the proxy came back meanwhile. Nodes without an address do not register.
//
// With a state file (weftd: <data-dir>/registrations.json) the set survives a weftd restart:
// restored workloads count as disconnected at startup, so they keep serving while their
// proxies reconnect (with back-off, in any order) and leave after the grace if they do not.
// Without it, a productpage proxy reconnecting before the reviews proxies would briefly be
// told reviews has no endpoints.
//
// Dispatcher thread only (MeshController's).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "control/mesh/node_identity.h"
#include "control/translate/registry.h"
#include "event/dispatcher.h"

namespace weft::control::mesh {

// Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD default.
inline constexpr std::chrono::milliseconds kDefaultRegistrationGrace{10000};
// The longest a disconnected weft-proxy waits between reconnect attempts (src/proxy/xds's
// jittered back-off, 0.5 s doubling to 30 s, like Envoy's gRPC xDS default). Workloads restored
// after a weftd restart get this on top of the grace, since their proxies' back-off grew while
// weftd was down.
inline constexpr std::chrono::milliseconds kProxyReconnectBackoffCap{30000};

// One registered workload, as diagnostics show it.
struct RegisteredWorkload {
  std::string node_id;
  std::string namespace_;
  // "<AUTO_REGISTER_GROUP>-<ip>" as Istio names auto-registered WorkloadEntries, else NAME,
  // else the node id.
  std::string name;
  std::string group;             // AUTO_REGISTER_GROUP, "" for none
  translate::Endpoint endpoint;  // as the node sent it (before the group's template)
  bool connected = true;
  // When its last stream closed (connected == false); it leaves at this + the grace period.
  std::chrono::system_clock::time_point disconnected_at{};
};

class WorkloadRegistry {
 public:
  // `on_change` runs on the dispatcher when a workload expires (registering happens as a
  // stream opens, which rebuilds anyway).
  // `state_path`: where the set is saved after each change ("" = not saved).
  WorkloadRegistry(event::Dispatcher& dispatcher, std::chrono::milliseconds grace,
                   std::function<void()> on_change, std::string state_path = "");
  ~WorkloadRegistry();

  // Loads the state file, if any (call once, before proxies connect). A missing file is an
  // empty registry; an unreadable one is an error naming it.
  absl::Status Restore();

  // A stream of `node` opened. Returns false (and registers nothing) when it has no address.
  // A workload waiting out its grace period is connected again and stays.
  bool Register(const NodeIdentity& node);
  // The node's last stream closed: the grace period starts.
  void MarkDisconnected(const std::string& node_id);

  // Adds every registered workload (connected or within its grace) to `registry`, its
  // WorkloadGroup's template applied (registry.workload_groups, from the store).
  void AddTo(translate::Registry& registry) const;

  // The inbound ports of the proxy of `node_id`: one per port of each service in `registry`
  // selecting its workload, numbered by the workload's port (POD_PORTS / template ports by
  // name, else the service's targetPort, else its number), where the application listens too.
  // Empty for a node that is not registered.
  std::vector<translate::ServicePort> InboundPorts(const std::string& node_id,
                                                   const translate::Registry& registry) const;

  // Every registered workload, sorted by node id (read-only, for the debug API).
  // Whether some service in `registry` selects the node's workload (its WorkloadGroup
  // template applied): only then does its registration change anybody's config.
  bool SelectedByAny(const std::string& node_id, const translate::Registry& registry) const;
  std::vector<RegisteredWorkload> List() const;
  std::chrono::milliseconds grace() const { return grace_; }

 private:
  struct Entry {
    RegisteredWorkload workload;
    std::unique_ptr<event::Timer> expiry;
  };
  // The workload with its group's template applied: node values win, then the group's
  // metadata labels, then the template (Istio's workloadEntryFromGroup order).
  translate::Workload Resolve(const RegisteredWorkload& w, const translate::Registry& r) const;
  void Expire(const std::string& node_id);
  void StartGrace(Entry& entry);  // the configured grace
  void StartGrace(Entry& entry, std::chrono::milliseconds grace);
  // Saves once per turn of the loop, however many changes the turn made.
  void ScheduleSave();
  void Save();

  event::Dispatcher& dispatcher_;
  const std::chrono::milliseconds grace_;
  std::function<void()> on_change_;
  std::map<std::string, Entry> entries_;  // by node id
  const std::string state_path_;
  bool save_scheduled_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace weft::control::mesh
