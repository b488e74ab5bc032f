// STRICT_DNS and LOGICAL_DNS clusters: keep a cluster's HostSet in step with DNS.
//
// Each endpoint's name is resolved at start and then every dns_refresh_rate, or when its records'
// TTL expires if respect_dns_ttl is set. STRICT_DNS turns every returned address into a host (the
// endpoint's port and weight, locality and priority kept); LOGICAL_DNS, which must have exactly
// one endpoint, uses only the first address. The first HostSet is published once every endpoint
// has had one answer; after that a new snapshot is published only when some endpoint's addresses
// change. A failed resolution (NXDOMAIN, timeout) keeps the endpoint's previous hosts and tries
// again after dns_refresh_rate.
//
// Thread-safety: none; lives on the main thread with its dispatcher and resolver. Workers only
// ever see the published shared_ptr<const HostSet>.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "event/dispatcher.h"
#include "event/dns_resolver.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"

namespace weft::upstream {

class DnsCluster {
 public:
  using HostSetCallback = std::function<void(std::shared_ptr<const HostSet>)>;

  // `config.type` must be kStrictDns or kLogicalDns. When `config.dns_resolvers` is set the
  // cluster makes its own resolver pointed at them; otherwise it uses `shared_resolver` (the main
  // thread's), which must then be non-null and outlive the cluster. Nothing is resolved before
  // Start().
  static absl::StatusOr<std::unique_ptr<DnsCluster>> Create(
      event::Dispatcher& dispatcher, std::shared_ptr<const ClusterConfig> config,
      event::DnsResolver* shared_resolver, HostSetCallback on_update);
  ~DnsCluster();
  DnsCluster(const DnsCluster&) = delete;
  DnsCluster& operator=(const DnsCluster&) = delete;

  void Start();

  // The last published snapshot; nullptr until every endpoint has been resolved once.
  std::shared_ptr<const HostSet> host_set() const { return current_; }

 private:
  struct Target {
    std::string name;
    uint16_t port = 0;
    const EndpointConfig* endpoint = nullptr;
    const LocalityEndpoints* locality = nullptr;
    std::vector<HostConstSharedPtr> hosts;
    bool resolved_once = false;
    event::ActiveDnsQuery* query = nullptr;
    std::unique_ptr<event::Timer> refresh_timer;
  };

  DnsCluster(event::Dispatcher& dispatcher, std::shared_ptr<const ClusterConfig> config,
             HostSetCallback on_update);
  void Resolve(Target& target);
  void OnResolved(Target& target, absl::Status status, std::vector<event::DnsResponse> responses);

  event::Dispatcher& dispatcher_;
  std::shared_ptr<const ClusterConfig> config_;
  HostSetCallback on_update_;
  std::unique_ptr<event::DnsResolver> own_resolver_;
  event::DnsResolver* resolver_ = nullptr;
  std::vector<std::unique_ptr<Target>> targets_;
  std::shared_ptr<const HostSet> current_;
};

}  // namespace weft::upstream
