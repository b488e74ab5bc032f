// Istio's `istio.stats` HTTP filter config -> filters::istio::IstioStatsConfig.
//
// Istio's proto (stats.PluginConfig, istio/proxy source/extensions/filters/http/istio_stats
// config.proto) is not in Weft's tree, so the config is accepted as an xds.type.v3.TypedStruct
// (or udpa.type.v1.TypedStruct) whose type_url is type.googleapis.com/stats.PluginConfig and
// whose value is the PluginConfig in JSON form, or as a bare stats.PluginConfig with no fields
// (Istio's default). Fields Weft does not implement are refused with their path.
#pragma once

#include <google/protobuf/any.pb.h>

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/filters/istio_stats.h"

namespace weft::config {

inline constexpr std::string_view kIstioStatsType = "stats.PluginConfig";

absl::StatusOr<std::shared_ptr<const filters::istio::IstioStatsConfig>> TranslateIstioStats(
    const google::protobuf::Any* typed_config, filters::istio::TrafficDirection direction,
    std::string_view path);

}  // namespace weft::config
