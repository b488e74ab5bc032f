#include "control/mesh/mesh_config_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/yaml_json.h"

namespace weft::control::mesh {
namespace {

using translate::MeshConfig;

absl::Status FieldError(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError("meshConfig." + path + ": " + what);
}

absl::Status ReadString(const nlohmann::json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return FieldError(path, "not a string");
  out = j.get<std::string>();
  if (out.empty()) return FieldError(path, "must not be empty");
  return absl::OkStatus();
}

absl::Status ReadOutboundTrafficPolicy(const nlohmann::json& j, MeshConfig& out) {
  if (!j.is_object()) return FieldError("outboundTrafficPolicy", "not an object");
  for (const auto& [key, value] : j.items()) {
    if (key != "mode") return FieldError("outboundTrafficPolicy." + key, "unknown field");
    if (value == "ALLOW_ANY") {
      out.outbound_traffic_policy = MeshConfig::OutboundTrafficPolicy::kAllowAny;
    } else if (value == "REGISTRY_ONLY") {
      out.outbound_traffic_policy = MeshConfig::OutboundTrafficPolicy::kRegistryOnly;
    } else {
      return FieldError("outboundTrafficPolicy.mode", "must be ALLOW_ANY or REGISTRY_ONLY");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadDefaultConfig(const nlohmann::json& j, MeshConfig& out) {
  if (!j.is_object()) return FieldError("defaultConfig", "not an object");
  for (const auto& [key, value] : j.items()) {
    if (key != "holdApplicationUntilProxyStarts") {
      return FieldError("defaultConfig." + key, "unknown field");
    }
    if (!value.is_boolean()) return FieldError("defaultConfig." + key, "not a boolean");
    out.hold_application_until_proxy_starts = value.get<bool>();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MeshConfig> ParseMeshConfig(std::string_view yaml) {
  auto documents = weft::yaml::DocumentsToJson(yaml);
  if (!documents.ok()) return documents.status();
  MeshConfig config;
  if (documents->empty()) return config;
  if (documents->size() > 1) return absl::InvalidArgumentError("meshConfig: one document only");
  const nlohmann::json& root = documents->front();
  if (root.is_null()) return config;
  if (!root.is_object()) return absl::InvalidArgumentError("meshConfig: not a mapping");
  for (const auto& [key, value] : root.items()) {
    absl::Status st;
    if (key == "outboundTrafficPolicy") {
      st = ReadOutboundTrafficPolicy(value, config);
    } else if (key == "rootNamespace") {
      st = ReadString(value, key, config.root_namespace);
    } else if (key == "trustDomain") {
      st = ReadString(value, key, config.trust_domain);
    } else if (key == "accessLogFile") {
      if (!value.is_string()) {
        st = FieldError(key, "not a string");
      } else {
        config.access_log_file = value.get<std::string>();
      }
    } else if (key == "defaultConfig") {
      st = ReadDefaultConfig(value, config);
    } else {
      st = FieldError(key,
                      "unknown field (weftd honours outboundTrafficPolicy, rootNamespace, "
                      "trustDomain, accessLogFile, defaultConfig.holdApplicationUntilProxyStarts)");
    }
    if (!st.ok()) return st;
  }
  return config;
}

absl::StatusOr<MeshConfig> LoadMeshConfig(const std::string& path) {
  if (path.empty()) return MeshConfig{};
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  auto config = ParseMeshConfig(text.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(path + ": " + std::string(config.status().message()));
  }
  return config;
}

}  // namespace weft::control::mesh
