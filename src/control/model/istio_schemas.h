// The schema of each kind's spec (Istio's networking API protos, networking/v1alpha3/*.proto,
// field names in their JSON spelling), with Istio's validation rules attached.
#pragma once

#include <string_view>

#include "control/model/schema.h"

namespace weft::control {

// The spec schema of `kind` ("VirtualService", ...), or null for a kind weftd does not serve.
TypePtr SpecSchema(std::string_view kind);

}  // namespace weft::control
