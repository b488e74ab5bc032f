// HTTP filters' typed_config (and their typed_per_filter_config on routes and virtual hosts) ->
// the filters' plain configs and factories (proxy/filters). Config-boundary only.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/map.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "envoy/type/v3/percent.pb.h"
#include "proxy/config/known_extensions.h"
#include "proxy/filters/filter.h"
#include "proxy/filters/istio_stats.h"
#include "proxy/router/route_config.h"

namespace envoy::config::route::v3 {
class CorsPolicy;
}

namespace weft::config {

// The factory for an http_filters entry that resolved to `extension`; nullptr for the router.
// `http_stat_prefix` is its connection manager's, as Envoy prints it: "http.<stat_prefix>.".
// `direction` is the listener's traffic_direction (istio.stats reports by it).
absl::StatusOr<std::shared_ptr<const filters::FilterFactory>> TranslateHttpFilter(
    const KnownExtension& extension, std::string name, const google::protobuf::Any* typed_config,
    std::string_view http_stat_prefix, std::string_view path,
    filters::istio::TrafficDirection direction = filters::istio::TrafficDirection::kUnspecified);

// typed_per_filter_config: filter name -> that filter's per-route config.
absl::StatusOr<router::PerFilterConfigs> TranslatePerFilterConfigs(
    const google::protobuf::Map<std::string, google::protobuf::Any>& configs,
    std::string_view path);

// The deprecated `cors` field of a RouteAction or VirtualHost.
absl::StatusOr<std::shared_ptr<const router::CorsPolicy>> TranslateRouteCorsPolicy(
    const envoy::config::route::v3::CorsPolicy& cors, std::string_view path);

router::FractionalPercent TranslateFractionalPercent(const envoy::type::v3::FractionalPercent& p);

}  // namespace weft::config
