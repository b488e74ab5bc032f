// The xDS server's input and its bookkeeping, free of protobuf and gRPC so weftd's other parts
// (the translator, weftctl's proxy-status API) can include it.
//
// A Snapshot is what one proxy should see: per type URL, a version and the resources by name,
// each a serialized google.protobuf.Any. The cache keeps the current snapshot per node id (and a
// default for nodes without one), tells the streams of a node which types changed when a new
// snapshot arrives (and only those streams), and records what each node was sent, ACKed and
// NACKed per type.
//
// Thread-safe: every method may be called from any thread (one mutex; watchers are called
// without it held).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace weft::control::xds {

// The type URLs of the four resource types weft-proxy speaks, in the order a push sends them
// when several change: clusters before their endpoints, listeners before their routes, and
// clusters before the listeners that route to them (Envoy's "eventual consistency
// considerations" in the xDS protocol doc).
inline constexpr const char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr const char kEndpointType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
inline constexpr const char kListenerType[] =
    "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr const char kRouteType[] =
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
// SDS over ADS (DestinationRule credentialName): never wildcard, and it holds private keys, so
// nothing that dumps a snapshot may print this type (the debug API serves the four above only).
inline constexpr const char kSecretType[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// Position of a type in the push order (CDS 0, EDS 1, LDS 2, RDS 3, others after, by URL).
int WarmingRank(const std::string& type_url);
// Sorts type URLs into push order.
void SortByWarmingOrder(std::vector<std::string>& type_urls);
// Whether an empty subscription means "everything" for this type (LDS and CDS, per the xDS
// protocol's wildcard rules), rather than "nothing".
bool IsWildcardType(const std::string& type_url);

struct TypeResources {
  // Empty when the caller leaves it to the cache: SetSnapshot then derives it from the content,
  // so equal content keeps its version.
  std::string version;
  std::map<std::string, std::string> resources;  // name -> serialized google.protobuf.Any
  // name -> ResourceVersion(bytes), filled by the cache when the snapshot is set (so a push does
  // not hash every resource again for every stream); callers leave it empty.
  std::map<std::string, std::string> resource_versions = {};
};

using Snapshot = std::map<std::string, TypeResources>;  // type URL -> resources

// A stable digest of a resource's bytes: Delta's per-resource version.
std::string ResourceVersion(const std::string& serialized_any);

// What weftctl proxy-status shows for one node and type.
struct TypeStatus {
  std::string sent_version;  // the version in the last response sent
  std::string sent_nonce;
  std::string acked_version;  // the last version the node ACKed
  std::string nack_version;   // the version the last NACK rejected (empty: no NACK since ACK)
  std::string nack_error;     // that NACK's error_detail.message
  // The latest NACK ever, kept after later ACKs clear the two above: a proxy may NACK a version
  // and then ACK it once it dropped the part it could not apply (weftctl shows both).
  std::string last_nack_version, last_nack_error;
  uint64_t acks = 0, nacks = 0, pushes = 0;
};

struct NodeStatus {
  int open_streams = 0;
  std::map<std::string, TypeStatus> types;  // by type URL
};

class SnapshotCache {
 public:
  // Called with the type URLs whose resources changed, in push order.
  using Watcher = std::function<void(const std::vector<std::string>& changed_types)>;

  // Replaces the node's snapshot and notifies the node's watchers of the types whose resources
  // changed (none: nobody is woken). Versions left empty are derived from the content.
  void SetSnapshot(const std::string& node_id, Snapshot snapshot);
  // One snapshot for many nodes (weftd's proxies of one view): stored once and shared, the
  // nodes' watchers told what changed for each. Returns the stored snapshot, which
  // SetSharedSnapshot accepts for nodes joining the view later.
  std::shared_ptr<const Snapshot> SetSnapshots(const std::vector<std::string>& node_ids,
                                               Snapshot snapshot);
  // `snapshot` is one this cache returned (SetSnapshots, GetSnapshot): shared as it is.
  void SetSharedSnapshot(const std::vector<std::string>& node_ids,
                         std::shared_ptr<const Snapshot> snapshot);
  // The snapshot for nodes that have none of their own (a fixture serving every node alike).
  void SetDefaultSnapshot(Snapshot snapshot);
  void ClearSnapshot(const std::string& node_id);
  // The node's snapshot (or the default), shared and immutable; nullptr when neither exists.
  std::shared_ptr<const Snapshot> GetSnapshot(const std::string& node_id) const;

  // A stream of `node_id` wants to hear about changes; the id is for Unwatch.
  uint64_t Watch(const std::string& node_id, Watcher watcher);
  void Unwatch(uint64_t watch_id);

  // Bookkeeping, fed by the streams.
  void StreamOpened(const std::string& node_id);
  void StreamClosed(const std::string& node_id);
  void RecordSent(const std::string& node_id, const std::string& type_url,
                  const std::string& version, const std::string& nonce);
  void RecordAck(const std::string& node_id, const std::string& type_url,
                 const std::string& version);
  void RecordNack(const std::string& node_id, const std::string& type_url,
                  const std::string& rejected_version, const std::string& error);

  std::optional<NodeStatus> Status(const std::string& node_id) const;
  std::map<std::string, NodeStatus> AllStatuses() const;

 private:
  // Fills in versions and resource versions.
  static std::shared_ptr<const Snapshot> Seal(Snapshot snapshot);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Snapshot>> snapshots_;
  std::shared_ptr<const Snapshot> default_snapshot_;
  struct WatchEntry {
    std::string node_id;
    std::shared_ptr<Watcher> watcher;
  };
  std::map<uint64_t, WatchEntry> watches_;
  std::multimap<std::string, uint64_t> watches_by_node_;  // node id -> watch id
  uint64_t next_watch_id_ = 1;
  std::map<std::string, NodeStatus> status_;
};

}  // namespace weft::control::xds
