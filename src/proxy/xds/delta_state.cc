#include "proxy/xds/delta_state.h"

#include "proxy/config/text.h"

namespace weft::proxy::xds {

absl::StatusOr<DeltaTypeState::Merged> DeltaTypeState::Merge(
    const discovery::DeltaDiscoveryResponse& response) const {
  Merged merged;
  merged.held = held_;
  for (int i = 0; i < response.resources_size(); ++i) {
    const discovery::Resource& r = response.resources(i);
    if (r.name().empty()) {
      return absl::InvalidArgumentError(config::Cat("resources[", i, "]: name is required"));
    }
    // A Resource without its body is only meaningful for on-demand or TTL heartbeats, neither of
    // which this client asks for.
    if (!r.has_resource()) {
      return absl::InvalidArgumentError(
          config::Cat("resources[", i, "] '", r.name(), "': resource is required"));
    }
    if (r.resource().type_url() != response.type_url()) {
      return absl::InvalidArgumentError(config::Cat("resources[", i, "] '", r.name(), "': not a ",
                                                    response.type_url(), " (",
                                                    r.resource().type_url(), ")"));
    }
    merged.held[r.name()] = Held{r.version(), r.resource()};
  }
  for (const std::string& name : response.removed_resources()) merged.held.erase(name);

  merged.full.set_type_url(response.type_url());
  merged.full.set_version_info(response.system_version_info());
  merged.full.set_nonce(response.nonce());
  for (const auto& [name, held] : merged.held) *merged.full.add_resources() = held.resource;
  return merged;
}

void DeltaTypeState::Forget(const std::vector<std::string>& names) {
  for (const std::string& name : names) held_.erase(name);
}

std::map<std::string, std::string> DeltaTypeState::Versions() const {
  std::map<std::string, std::string> versions;
  for (const auto& [name, held] : held_) versions[name] = held.version;
  return versions;
}

}  // namespace weft::proxy::xds
