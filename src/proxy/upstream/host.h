// Upstream hosts and the immutable snapshots that group them.
//
// A Host is one resolved endpoint of a cluster. A HostSet is a cluster's complete host list at one
// moment, grouped by priority and locality. Both are immutable: the main thread builds a fresh
// HostSet whenever membership changes (DNS result, EDS update) and publishes it to workers as a
// shared_ptr<const HostSet>; a worker keeps using its snapshot until it swaps in the next one, so
// nothing here is ever locked. Per-worker mutable state (active request counts, per-host stats)
// lives in the worker's load balancer, indexed by the host's index in HostSet::hosts().
//
// Thread-safety: immutable after construction, safe to share across threads.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proxy/upstream/socket_address.h"

namespace weft::upstream {

struct Locality {
  std::string region, zone, sub_zone;
  bool operator==(const Locality&) const = default;
};

struct Host {
  sockaddr_storage address{};  // family, IP and port
  socklen_t address_len = 0;
  std::string address_string;  // "10.0.0.1:80" or "[::1]:80"
  std::string hostname;        // the DNS name it came from, else the endpoint's hostname
  uint32_t weight = 1;         // load_balancing_weight, >= 1
  Locality locality;
  // The load_balancing_weight of the host's LocalityLbEndpoints (0 = unset), copied into each host
  // so a HostSet can be rebuilt from hosts alone when one DNS target changes.
  uint32_t locality_weight = 0;
  uint32_t priority = 0;
  // The endpoint's metadata filter_metadata["envoy.transport_socket_match"]
  // (cluster_config.h), which picks the cluster's transport socket for this host.
  std::map<std::string, std::string> transport_socket_match;
};

using HostConstSharedPtr = std::shared_ptr<const Host>;

// Why a host takes no traffic, as bits (Envoy's /clusters names them: /failed_active_hc,
// /failed_outlier_check). The main thread owns these; workers only ever see them folded into the
// load balancers' per-priority views (see HostSet::CreateView and load_balancer.h).
enum HealthFlag : uint32_t {
  kFailedActiveHc = 1u << 0,      // active health checking says unhealthy
  kFailedOutlierCheck = 1u << 1,  // ejected by outlier detection
};
// Health flags by index into HostSet::hosts(); 0 = healthy. Empty = every host healthy.
using HostHealth = std::vector<uint32_t>;
inline bool IsHealthy(const HostHealth& health, size_t index) {
  return index >= health.size() || health[index] == 0;
}

// Builds a host from a socket address (AF_INET or AF_INET6). Weight 0 is raised to 1, as Envoy
// requires weights >= 1.
HostConstSharedPtr MakeHost(const sockaddr* address, socklen_t address_len, std::string hostname,
                            uint32_t weight, Locality locality = {}, uint32_t priority = 0,
                            uint32_t locality_weight = 0,
                            std::map<std::string, std::string> transport_socket_match = {});

// Hosts of one locality within one priority: the unit locality-weighted LB will pick from.
struct LocalityHosts {
  Locality locality;
  uint32_t locality_weight = 0;
  std::vector<uint32_t> hosts;  // indices into HostSet::hosts()
};

// Hosts of one priority level.
struct PriorityHosts {
  std::vector<uint32_t> hosts;  // indices into HostSet::hosts(), in HostSet order
  std::vector<LocalityHosts> localities;
  uint64_t total_weight = 0;  // sum of these hosts' weights
  bool equal_weights = true;
};

class HostSet {
 public:
  // Groups `hosts` by priority and locality. The order of `hosts` is kept: indices returned by
  // load balancers refer to it.
  static std::shared_ptr<const HostSet> Create(std::vector<HostConstSharedPtr> hosts);

  const std::vector<HostConstSharedPtr>& hosts() const { return *hosts_; }
  // Priorities 0..N-1; a level with no hosts is present but empty.
  const std::vector<PriorityHosts>& priorities() const { return priorities_; }
  // What a load balancer built over this set picks from: priority 0 of a full set (an empty
  // level when there are no hosts), or the chosen hosts of a view (CreateView).
  const PriorityHosts& primary() const;

  // A view for one load balancer: the same hosts() as `all` (so every index a balancer returns
  // still means the same host), with primary() being `hosts`, a subset of one priority level
  // (its healthy hosts, or all of them in panic). Built on the main thread when health changes;
  // the balancers themselves need not know health exists.
  static std::shared_ptr<const HostSet> CreateView(const HostSet& all,
                                                   const std::vector<uint32_t>& hosts);

  // True when both sets hold the same addresses with the same weights, localities and
  // priorities, in the same order: a DNS refresh that changes nothing publishes nothing.
  bool SameHostsAs(const HostSet& other) const;

 private:
  HostSet() = default;
  void AddToLevel(uint32_t index, PriorityHosts& level) const;
  // Shared between a set and its views.
  std::shared_ptr<const std::vector<HostConstSharedPtr>> hosts_;
  std::vector<PriorityHosts> priorities_;
};

using HostSetConstSharedPtr = std::shared_ptr<const HostSet>;

}  // namespace weft::upstream
