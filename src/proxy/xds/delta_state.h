// The Delta (incremental) xDS client's view of one resource type: the resources it has accepted,
// by name with their versions. A DeltaDiscoveryResponse only carries what changed (resources)
// and what went away (removed_resources); merged onto what is held, it becomes the type's full
// state, the same DiscoveryResponse a state-of-the-world server would have sent. That is what
// the client applies, so Delta and SotW share one apply path (xds_client.cc) and differ only in
// the protocol. Merge leaves the held state alone; the client then commits every well-formed
// response, NACKed ones too: what is held is what the server says the type is (and what it
// believes the client has), so the next merge is exactly the full response a SotW server would
// send. A NACK is the apply's business: the Server keeps serving its last good config, listeners
// that did apply next to one that failed stay, and a bad resource is NACKed again with the next
// change until the server fixes or removes it, as in SotW.
//
// Not thread-safe: the xDS client's stream thread owns it. Includes generated protobuf headers:
// only proxy/xds includes this.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace weft::proxy::xds {

namespace discovery = envoy::service::discovery::v3;

class DeltaTypeState {
 public:
  struct Held {
    std::string version;
    google::protobuf::Any resource;
  };
  using HeldMap = std::map<std::string, Held>;

  struct Merged {
    discovery::DiscoveryResponse full;  // the type's full state, for the SotW apply path
    HeldMap held;                       // to Commit() once the response is handled
  };

  // What is held plus `response`'s resources, minus its removed_resources. An error (a resource
  // without a name or a body, of another type) names the resource; nothing is held differently.
  absl::StatusOr<Merged> Merge(const discovery::DeltaDiscoveryResponse& response) const;
  void Commit(HeldMap held) { held_ = std::move(held); }

  // Unsubscribed names: the server forgets that this client has them, so does the client.
  void Forget(const std::vector<std::string>& names);

  // initial_resource_versions for a new stream: the server need not resend what is unchanged.
  std::map<std::string, std::string> Versions() const;

  const HeldMap& held() const { return held_; }

 private:
  HeldMap held_;
};

}  // namespace weft::proxy::xds
