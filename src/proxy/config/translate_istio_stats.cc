#include "proxy/config/translate_istio_stats.h"

#include "proxy/config/translate_common.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::config {

absl::StatusOr<std::shared_ptr<const filters::istio::IstioStatsConfig>> TranslateIstioStats(
    const google::protobuf::Any* typed_config, filters::istio::TrafficDirection direction,
    std::string_view path) {
  auto config = std::make_shared<filters::istio::IstioStatsConfig>();
  config->direction = direction;
  if (typed_config == nullptr) return config;
  if (TypedStructInnerType(*typed_config).empty()) {
    // The bare message: without its proto only the empty (default) config can be read.
    if (!typed_config->value().empty()) {
      return ConfigError(path,
                         "a stats.PluginConfig with fields needs an xds.type.v3.TypedStruct "
                         "(Weft has no stats.PluginConfig proto)");
    }
    return config;
  }
  xds::type::v3::TypedStruct typed_struct;
  typed_struct.ParseFromString(typed_config->value());  // TypedStructInnerType decoded it
  const std::string v_path = FieldPath(path, "value");
  for (const auto& [field, value] : typed_struct.value().fields()) {
    const std::string f_path = FieldPath(v_path, field);
    if (field == "disable_host_header_fallback") {
      if (!value.has_bool_value()) return ConfigError(f_path, "must be a bool");
      config->disable_host_header_fallback = value.bool_value();
    } else if (field == "reporter") {
      // Reporter enum: UNSPECIFIED = 0 reports by the listener's direction; SERVER_GATEWAY = 1
      // (a gateway reporting as destination) is not implemented.
      if (!(value.has_string_value() && value.string_value() == "UNSPECIFIED") &&
          !(value.has_number_value() && value.number_value() == 0)) {
        return ConfigError(f_path, "only UNSPECIFIED is supported");
      }
    } else {
      return ConfigError(f_path,
                         "not supported (weft-proxy's istio.stats takes "
                         "disable_host_header_fallback and reporter)");
    }
  }
  return config;
}

}  // namespace weft::config
