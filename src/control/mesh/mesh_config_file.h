// Reads weftd's `--mesh-config` file: Istio's MeshConfig YAML (the fields translate::MeshConfig
// has), so a user's Istio mesh config, cut down to those fields, works unchanged. A field weftd
// does not know, or one of the wrong type, is refused with its path
// ("meshConfig.outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY"): weftd does not
// start on a mesh config it would half apply.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "control/translate/mesh_config.h"

namespace weft::control::mesh {

absl::StatusOr<translate::MeshConfig> ParseMeshConfig(std::string_view yaml);
// An empty path is the defaults.
absl::StatusOr<translate::MeshConfig> LoadMeshConfig(const std::string& path);

}  // namespace weft::control::mesh
