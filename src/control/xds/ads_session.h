// The ADS protocol logic of one stream, apart from gRPC's I/O so it can be tested on its own:
// a request (or a snapshot change) in, the responses to send out. One class per variant:
// state-of-the-world (StreamAggregatedResources) and incremental (DeltaAggregatedResources).
//
// Versions and nonces: each response carries the type's snapshot version (SotW version_info,
// Delta system_version_info) and a nonce unique within the stream. A request that echoes the
// nonce of the latest response of its type is an ACK (no error_detail) or a NACK (error_detail);
// a request echoing an older nonce is stale and ignored, as the xDS protocol prescribes. Both
// land in the SnapshotCache's per-node bookkeeping.
//
// Not thread-safe: one stream's thread drives its session. Includes generated protobuf headers:
// only control/xds includes this.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control/xds/snapshot_cache.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace weft::control::xds {

namespace discovery = envoy::service::discovery::v3;

// A set of subscribed resource names, immutable and shared: the sidecars of a mesh mostly
// subscribe to the same names (all 1000 EDS clusters, each), so streams with equal sets hold
// one copy instead of 1000 (~100 MB at 1000 proxies x 1000 services).
using NameSet = std::shared_ptr<const std::set<std::string>>;
NameSet InternNames(std::set<std::string> names);

// What a client holds of one resource type, without a per-stream copy of every name and
// version (3000 of them per proxy at 1000 services, times 1000 proxies): the resources its
// subscription selects in the snapshot it was last brought up to date with, minus those it
// lacks (subscribed since, or not decoded). Until a Delta client's first answer after a
// reconnect (initial_resource_versions) or a wildcard switch, an explicit name -> version map.
class ClientView {
 public:
  using Changed = std::function<bool(const std::string& name, const std::string& bytes,
                                     const std::string& version)>;  // false: not sent
  using Removed = std::function<void(const std::string& name)>;

  void SetExplicit(const std::string& name, const std::string& version);
  void Subscribed(const std::string& name);    // the client lacks it
  void Unsubscribed(const std::string& name);  // the client forgets it silently
  // Before the subscription changes shape (wildcard on or off): what the client holds under
  // the old one, made explicit.
  void Pin(const std::string& type, bool all, const std::set<std::string>& names);
  // Calls `changed` for each selected resource of `now` the client lacks or has in another
  // version and `removed` for each it has that is no longer in `now` (still subscribed);
  // afterwards the client holds `now`'s selection.
  void Update(const std::shared_ptr<const Snapshot>& now, const std::string& type, bool all,
              const std::set<std::string>& names, const Changed& changed, const Removed& removed);

 private:
  std::shared_ptr<const Snapshot> held_;
  std::set<std::string> lacking_;
  bool explicit_ = false;
  std::map<std::string, std::string> versions_;  // when explicit_
};

class SotwSession {
 public:
  SotwSession(SnapshotCache& cache, std::string node_id)
      : cache_(cache), node_id_(std::move(node_id)) {}

  // Whether Secrets (kSecretType) are served: only on a stream that authenticated as the node's
  // namespace (ads_server.h). Off by default: an unauthenticated stream sees none.
  void ServeSecrets(bool serve) { serve_secrets_ = serve; }

  std::vector<discovery::DiscoveryResponse> OnRequest(const discovery::DiscoveryRequest& request);
  // The cache says these types changed for this node (push order).
  std::vector<discovery::DiscoveryResponse> OnSnapshotChanged(
      const std::vector<std::string>& changed_types);

 private:
  struct TypeState {
    NameSet names = InternNames({});  // empty: wildcard for LDS/CDS, nothing for the others
    std::string sent_version;
    ClientView client;
    std::string nonce;
    bool responded = false;
  };
  // The response for `type` if what the subscription sees differs from what was last sent
  // (or `force`), else nothing.
  std::vector<discovery::DiscoveryResponse> Respond(const std::string& type, TypeState& state,
                                                    bool force);

  SnapshotCache& cache_;
  std::string node_id_;
  std::map<std::string, TypeState> types_;
  uint64_t nonce_counter_ = 0;
  bool serve_secrets_ = false;
};

class DeltaSession {
 public:
  DeltaSession(SnapshotCache& cache, std::string node_id)
      : cache_(cache), node_id_(std::move(node_id)) {}

  // Whether Secrets (kSecretType) are served: only on a stream that authenticated as the node's
  // namespace (ads_server.h). Off by default: an unauthenticated stream sees none.
  void ServeSecrets(bool serve) { serve_secrets_ = serve; }

  std::vector<discovery::DeltaDiscoveryResponse> OnRequest(
      const discovery::DeltaDiscoveryRequest& request);
  std::vector<discovery::DeltaDiscoveryResponse> OnSnapshotChanged(
      const std::vector<std::string>& changed_types);

 private:
  struct TypeState {
    bool wildcard = false;
    NameSet names = InternNames({});  // explicit subscriptions
    ClientView client;
    std::map<uint64_t, std::string> pending;  // nonce -> system version sent with it
  };
  // Changed and removed resources in the client's scope; `always` sends even an empty response
  // (the first answer for a type tells the client the type's state).
  std::vector<discovery::DeltaDiscoveryResponse> Respond(const std::string& type, TypeState& state,
                                                         bool always);

  SnapshotCache& cache_;
  std::string node_id_;
  std::map<std::string, TypeState> types_;
  uint64_t nonce_counter_ = 0;
  bool serve_secrets_ = false;
};

}  // namespace weft::control::xds
