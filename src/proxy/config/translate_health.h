// The health part of a cluster's translation (translate_health.cc).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::config {

// health_checks, outlier_detection, common_lb_config.healthy_panic_threshold and
// load_assignment.policy.overprovisioning_factor. Call after the discovery type is known.
absl::Status TranslateClusterHealth(const envoy::config::cluster::v3::Cluster& proto,
                                    std::string_view path, upstream::ClusterConfig& out);

}  // namespace weft::config
