// STATIC clusters: the endpoints are IP literals, so the HostSet is built once from the config.
// Also what EDS updates will go through (same LocalityLbEndpoints shape). Thread-safe (pure).
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"

namespace weft::upstream {

// Hosts in config order (locality by locality). An endpoint that is not an IP literal, or has
// no port, is an error naming the cluster and endpoint.
absl::StatusOr<std::shared_ptr<const HostSet>> BuildStaticHostSet(const ClusterConfig& config);

}  // namespace weft::upstream
