// Locality-weighted balancing (common_lb_config.locality_weighted_lb_config), as Envoy documents
// it
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/locality_weight):
// a request first picks a locality of the level in proportion to the locality's
// load_balancing_weight, then a host within that locality with the cluster's own policy
// (round robin, least request, random or peak EWMA). A locality without a weight gets no traffic
// (envoy.config.endpoint.v3.LocalityLbEndpoints.load_balancing_weight: "If no weights are
// specified when locality weighted load balancing is enabled, the locality is assigned no load").
//
// Localities are scheduled earliest-deadline-first (edf.h), so the proportions hold over every
// short window, not only on average. Each locality's hosts form a HostSet of their own, built once
// per published HostSet on the main thread (LocalityHostSets, shared by every worker), and each
// gets a child balancer per worker; indices are mapped between the two sets here, so callers only
// ever see indices into the cluster's HostSet.
//
// Balances priority 0 (HostSet::primary()), like the other balancers; priority failover picks the
// level first and can then build one of these over that level.
//
// Thread-safety: LocalityHostSets is immutable; the balancer is per worker and not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/random.h"
#include "proxy/upstream/host.h"
#include "proxy/upstream/load_balancer.h"

namespace weft::upstream {

struct LocalityHostSets {
  struct Entry {
    uint32_t weight = 0;                   // the locality's load_balancing_weight, > 0
    std::shared_ptr<const HostSet> hosts;  // the locality's hosts, as priority 0
    std::vector<uint32_t> to_cluster;      // index in `hosts` -> index in the cluster's HostSet
  };
  std::vector<Entry> localities;  // weighted, non-empty localities of priority 0

  static std::shared_ptr<const LocalityHostSets> Build(const HostSet& hosts);
};

class LocalityWeightedLoadBalancer final : public LoadBalancer {
 public:
  // Builds the balancer of one locality from that locality's HostSet.
  using ChildFactory =
      std::function<absl::StatusOr<std::unique_ptr<LoadBalancer>>(std::shared_ptr<const HostSet>)>;

  // `cluster_host_count` is the size of the cluster's HostSet that `localities` was built from.
  static absl::StatusOr<std::unique_ptr<LocalityWeightedLoadBalancer>> Create(
      std::shared_ptr<const LocalityHostSets> localities, size_t cluster_host_count,
      const ChildFactory& make_child, Random& random);

  int ChooseHost(const LbContext& context) override;
  void OnRequestStart(int host) override;
  void OnRequestEnd(int host) override;
  void OnResponseLatency(int host, std::chrono::nanoseconds latency) override;

 private:
  struct Owner {
    int locality = -1;  // -1: the host is in no weighted locality
    int index = -1;     // index in that locality's HostSet
  };
  struct Entry {
    double deadline;
    uint32_t host;  // the locality's index (the name edf.h's DueLater expects)
  };
  LocalityWeightedLoadBalancer(std::shared_ptr<const LocalityHostSets> localities,
                               size_t cluster_host_count);
  const Owner* OwnerOf(int host) const;

  std::shared_ptr<const LocalityHostSets> localities_;
  std::vector<std::unique_ptr<LoadBalancer>> children_;  // by locality
  std::vector<Owner> owners_;                            // by index into the cluster's HostSet
  std::vector<Entry> heap_;                              // EDF over localities
};

}  // namespace weft::upstream
