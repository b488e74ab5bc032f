// Envoy-style JSON of the resources weftd serves, for its debug API (weftctl proxy-config).
// The one place the debug path touches protobuf: callers pass the serialized google.protobuf.Any
// the SnapshotCache holds and get text back.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace weft::control::xds {

// The resource as protobuf's JSON mapping with the proto field names (as Envoy's config_dump
// prints it: "connect_timeout", not "connectTimeout"), with "@type" naming its type. Nested Anys
// (a listener's typed_config) are expanded too. Fails when the bytes do not parse or name a type
// this binary does not link.
absl::StatusOr<std::string> ResourceToJson(const std::string& serialized_any);

}  // namespace weft::control::xds
