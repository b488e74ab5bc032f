#include "control/mesh/node_identity.h"

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace weft::control::mesh {
namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Istio's node id: four '~'-separated parts, type ("sidecar", "router"), IP, "<pod>.<namespace>",
// DNS domain "<namespace>.svc.cluster.local" (istio pilot/pkg/model/context.go,
// ParseServiceNodeWithMetadata).
void FromNodeId(const std::string& id, NodeIdentity& identity) {
  const std::vector<std::string> parts = Split(id, '~');
  if (parts.size() != 4) return;
  identity.ip = parts[1];
  if (const size_t dot = parts[2].find('.');
      dot != std::string::npos && dot + 1 < parts[2].size()) {
    identity.namespace_ = parts[2].substr(dot + 1);
  } else if (const size_t d = parts[3].find('.'); d != std::string::npos && d > 0) {
    identity.namespace_ = parts[3].substr(0, d);
  }
}

}  // namespace

absl::StatusOr<NodeIdentity> ParseNodeIdentity(const std::string& node_id,
                                               const std::string& metadata_json,
                                               const std::string& locality) {
  NodeIdentity identity;
  identity.node_id = node_id;
  identity.locality = locality;
  FromNodeId(node_id, identity);
  if (metadata_json.empty()) return identity;
  const nlohmann::json metadata = nlohmann::json::parse(metadata_json, nullptr, false);
  if (!metadata.is_object()) return absl::InvalidArgumentError("metadata: not a JSON object");
  if (auto it = metadata.find("NAMESPACE"); it != metadata.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return absl::InvalidArgumentError("metadata.NAMESPACE: not a non-empty string");
    }
    identity.namespace_ = it->get<std::string>();
  }
  if (auto it = metadata.find("LABELS"); it != metadata.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("metadata.LABELS: not an object");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError("metadata.LABELS." + key + ": not a string");
      }
      identity.labels[key] = value.get<std::string>();
    }
  }
  if (auto it = metadata.find("GENERATOR"); it != metadata.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata.GENERATOR: not a string");
    identity.proxyless_grpc = it->get<std::string>() == "grpc";
  }
  if (auto it = metadata.find("INSTANCE_IPS"); it != metadata.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata.INSTANCE_IPS: not a string");
    const std::string first = Split(it->get<std::string>(), ',').front();
    if (!first.empty()) identity.ip = first;
  }
  return identity;
}

}  // namespace weft::control::mesh
