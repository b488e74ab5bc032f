#include "proxy/upstream/dns_cluster.h"

#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace weft::upstream {

namespace {

event::DnsLookupFamily ToResolverFamily(DnsLookupFamily family) {
  switch (family) {
    case DnsLookupFamily::kV4Only:
      return event::DnsLookupFamily::kV4Only;
    case DnsLookupFamily::kV6Only:
      return event::DnsLookupFamily::kV6Only;
    case DnsLookupFamily::kV4Preferred:
      return event::DnsLookupFamily::kV4Preferred;
    case DnsLookupFamily::kAll:
      return event::DnsLookupFamily::kAll;
    case DnsLookupFamily::kAuto:
      break;
  }
  return event::DnsLookupFamily::kAuto;
}

void SetPort(sockaddr_storage& address, uint16_t port) {
  if (address.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  } else if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  }
}

bool SameAddresses(const std::vector<HostConstSharedPtr>& a,
                   const std::vector<HostConstSharedPtr>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const HostConstSharedPtr& x, const HostConstSharedPtr& y) {
                      return x->address_string == y->address_string;
                    });
}

}  // namespace

DnsCluster::DnsCluster(event::Dispatcher& dispatcher, std::shared_ptr<const ClusterConfig> config,
                       HostSetCallback on_update)
    : dispatcher_(dispatcher), config_(std::move(config)), on_update_(std::move(on_update)) {}

absl::StatusOr<std::unique_ptr<DnsCluster>> DnsCluster::Create(
    event::Dispatcher& dispatcher, std::shared_ptr<const ClusterConfig> config,
    event::DnsResolver* shared_resolver, HostSetCallback on_update) {
  const ClusterConfig& c = *config;
  if (c.type != DiscoveryType::kStrictDns && c.type != DiscoveryType::kLogicalDns) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster '", c.name, "': DnsCluster needs type STRICT_DNS or LOGICAL_DNS"));
  }
  size_t endpoint_count = 0;
  for (const auto& locality : c.localities) endpoint_count += locality.endpoints.size();
  if (c.type == DiscoveryType::kLogicalDns && endpoint_count != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster '", c.name, "': LOGICAL_DNS clusters must have exactly one endpoint, got ",
        endpoint_count));
  }
  if (c.dns_refresh_rate.count() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster '", c.name, "': dns_refresh_rate must be > 0"));
  }

  std::unique_ptr<DnsCluster> cluster(
      new DnsCluster(dispatcher, std::move(config), std::move(on_update)));
  if (!c.dns_resolvers.empty()) {
    event::DnsResolverOptions options;
    options.servers = c.dns_resolvers;
    auto resolver = event::DnsResolver::Create(dispatcher, options);
    if (!resolver.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster '", c.name, "': dns_resolvers: ", resolver.status().message()));
    }
    cluster->own_resolver_ = std::move(*resolver);
    cluster->resolver_ = cluster->own_resolver_.get();
  } else if (shared_resolver != nullptr) {
    cluster->resolver_ = shared_resolver;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster '", c.name, "': no DNS resolver available"));
  }

  for (size_t l = 0; l < c.localities.size(); ++l) {
    for (size_t e = 0; e < c.localities[l].endpoints.size(); ++e) {
      const EndpointConfig& endpoint = c.localities[l].endpoints[e];
      if (endpoint.port == 0 || endpoint.port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("cluster '", c.name, "': load_assignment.endpoints[", l, "].lb_endpoints[",
                         e, "].endpoint.address: port_value must be 1-65535"));
      }
      auto target = std::make_unique<Target>();
      target->name = endpoint.address;
      target->port = static_cast<uint16_t>(endpoint.port);
      target->endpoint = &endpoint;
      target->locality = &c.localities[l];
      Target* raw = target.get();
      target->refresh_timer =
          dispatcher.CreateTimer([self = cluster.get(), raw] { self->Resolve(*raw); });
      cluster->targets_.push_back(std::move(target));
    }
  }
  return cluster;
}

DnsCluster::~DnsCluster() {
  for (auto& target : targets_) {
    if (target->query != nullptr) target->query->Cancel();
  }
}

void DnsCluster::Start() {
  if (targets_.empty()) {
    current_ = HostSet::Create({});
    on_update_(current_);
    return;
  }
  for (auto& target : targets_) Resolve(*target);
}

void DnsCluster::Resolve(Target& target) {
  if (target.query != nullptr) return;  // still waiting on the previous one
  event::ActiveDnsQuery* query = resolver_->Resolve(
      target.name, ToResolverFamily(config_->dns_lookup_family),
      [this, &target](absl::Status status, std::vector<event::DnsResponse> responses) {
        OnResolved(target, std::move(status), std::move(responses));
      });
  // nullptr when the answer was immediate (an IP literal, /etc/hosts): OnResolved already ran.
  target.query = query;
}

void DnsCluster::OnResolved(Target& target, absl::Status status,
                            std::vector<event::DnsResponse> responses) {
  target.query = nullptr;
  bool changed = false;
  Milliseconds next_refresh = config_->dns_refresh_rate;
  if (status.ok()) {
    if (config_->type == DiscoveryType::kLogicalDns && responses.size() > 1) responses.resize(1);
    std::vector<HostConstSharedPtr> hosts;
    hosts.reserve(responses.size());
    uint64_t min_ttl_seconds = UINT64_MAX;
    for (event::DnsResponse& response : responses) {
      SetPort(response.address, target.port);
      min_ttl_seconds = std::min<uint64_t>(min_ttl_seconds, response.ttl.count());
      const EndpointConfig& endpoint = *target.endpoint;
      const LocalityEndpoints& locality = *target.locality;
      HostConstSharedPtr host =
          MakeHost(reinterpret_cast<const sockaddr*>(&response.address), response.address_len,
                   endpoint.hostname.empty() ? target.name : endpoint.hostname, endpoint.weight,
                   Locality{locality.region, locality.zone, locality.sub_zone}, locality.priority,
                   locality.load_balancing_weight, endpoint.transport_socket_match);
      // Keep the existing Host object for an address that did not change.
      for (const auto& old : target.hosts) {
        if (old->address_string == host->address_string) {
          host = old;
          break;
        }
      }
      hosts.push_back(std::move(host));
    }
    changed = !target.resolved_once || !SameAddresses(hosts, target.hosts);
    if (changed) target.hosts = std::move(hosts);
    // A TTL of 0 (hosts file, literals) would mean "ask again at once": use the refresh rate.
    if (config_->respect_dns_ttl && min_ttl_seconds > 0 && min_ttl_seconds != UINT64_MAX) {
      next_refresh = std::chrono::seconds(min_ttl_seconds);
    }
  } else {
    WEFT_LOG(warn, "cluster '{}': resolving '{}' failed, keeping {} host(s): {}", config_->name,
             target.name, target.hosts.size(), status.ToString());
  }
  bool first_answer = !target.resolved_once;
  target.resolved_once = true;
  target.refresh_timer->Enable(next_refresh);

  bool all_resolved =
      std::all_of(targets_.begin(), targets_.end(), [](const auto& t) { return t->resolved_once; });
  if (!all_resolved) return;
  // Publish when something changed, and once when the last endpoint got its first answer.
  if (!changed && !(first_answer && current_ == nullptr)) return;
  std::vector<HostConstSharedPtr> all;
  for (const auto& t : targets_) all.insert(all.end(), t->hosts.begin(), t->hosts.end());
  current_ = HostSet::Create(std::move(all));
  on_update_(current_);  // last: the callback may destroy this cluster
}

}  // namespace weft::upstream
