// Loads weft-proxy's static configuration: an Envoy v3 bootstrap (envoy.config.bootstrap.v3.
// Bootstrap) written as YAML or JSON, checked against what Weft supports and translated into the
// plain structs of bootstrap_config.h.
//
// Everything Weft does not implement is refused with an error naming the field path, e.g.
// "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.foo: not supported";
// nothing is silently ignored. Protobuf stays behind this boundary: this header includes none.
// Stateless; thread-safe (call it from the main thread; the result is immutable data).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/config/bootstrap_config.h"

namespace weft::config {

// Parses an Envoy v3 bootstrap (YAML or JSON text) and validates it against what Weft supports.
absl::StatusOr<BootstrapConfig> LoadBootstrapFromString(std::string_view yaml_or_json);

// The same from a file; the error names the file.
absl::StatusOr<BootstrapConfig> LoadBootstrapFromFile(const std::string& path);

// Envoy's `-c FILE --config-yaml YAML`: the YAML is merged over the file's bootstrap the way
// Envoy does it, with protobuf's MergeFrom (scalar fields replaced, repeated fields appended,
// messages merged field by field), and the result is validated as a whole.
absl::StatusOr<BootstrapConfig> LoadBootstrapWithOverride(const std::string& path,
                                                          std::string_view yaml_override);

}  // namespace weft::config
