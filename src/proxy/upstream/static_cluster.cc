#include "proxy/upstream/static_cluster.h"

#include "absl/strings/str_cat.h"

namespace weft::upstream {

absl::StatusOr<std::shared_ptr<const HostSet>> BuildStaticHostSet(const ClusterConfig& config) {
  std::vector<HostConstSharedPtr> hosts;
  for (size_t l = 0; l < config.localities.size(); ++l) {
    const LocalityEndpoints& locality = config.localities[l];
    for (size_t e = 0; e < locality.endpoints.size(); ++e) {
      const EndpointConfig& endpoint = locality.endpoints[e];
      auto field = [&] {
        return absl::StrCat("cluster '", config.name, "': load_assignment.endpoints[", l,
                            "].lb_endpoints[", e, "].endpoint.address");
      };
      if (endpoint.port == 0 || endpoint.port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(field(), ": port_value must be 1-65535"));
      }
      auto address = ParseIpAddress(endpoint.address, static_cast<uint16_t>(endpoint.port));
      if (!address.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            field(), ": a STATIC cluster needs IP addresses: ", address.status().message()));
      }
      hosts.push_back(MakeHost(reinterpret_cast<const sockaddr*>(&*address),
                               SockaddrLength(*address), endpoint.hostname, endpoint.weight,
                               Locality{locality.region, locality.zone, locality.sub_zone},
                               locality.priority, locality.load_balancing_weight,
                               endpoint.transport_socket_match));
    }
  }
  return HostSet::Create(std::move(hosts));
}

}  // namespace weft::upstream
