// The load-balancing part of envoy.config.cluster.v3.Cluster: the extensible
// `load_balancing_policy` (Envoy's typed policies, and peak EWMA carried in an
// xds.type.v3.TypedStruct) and `common_lb_config.locality_weighted_lb_config`, plus the checks
// of lb_policy's tuning values shared by both spellings. Config boundary only (includes
// generated headers). Stateless; thread-safe.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::config::internal {

// The type URLs Weft accepts for peak EWMA inside a TypedStruct: Envoy's contrib extension
// (envoy.load_balancing_policies.peak_ewma, v3alpha) and its promoted v3 spelling.
inline constexpr std::string_view kPeakEwmaTypes[] = {
    "envoy.extensions.load_balancing_policies.peak_ewma.v3alpha.PeakEwma",
    "envoy.extensions.load_balancing_policies.peak_ewma.v3.PeakEwma",
};

// Applies `load_balancing_policy` (which supersedes lb_policy, as in Envoy) and
// `common_lb_config` to `out`. Call after lb_policy was translated.
absl::Status TranslateLbPolicy(const envoy::config::cluster::v3::Cluster& proto,
                               std::string_view path, upstream::ClusterConfig& out);

// Range checks shared by the Cluster fields and the typed policies; `path` names the message.
absl::Status CheckRingHash(const upstream::RingHashConfig& ring, std::string_view path);
absl::Status CheckMaglevTableSize(uint64_t table_size, std::string_view path);
absl::Status CheckChoiceCount(uint32_t choice_count, std::string_view path);

}  // namespace weft::config::internal
