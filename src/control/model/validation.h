// Validation on write, with Istio's rules, for every kind weftd serves (kinds.h): the object's
// shape (apiVersion, kind, metadata, spec, status; unknown fields refused with their path), each
// field's type, and Istio's semantic rules (istio/istio pkg/config/validation: host names,
// weights, durations, RE2 regexes, subset names, value ranges, oneofs). Every error is returned,
// each with its field path, so a client fixes them all at once. Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "control/model/schema.h"

namespace weft::control {

std::vector<FieldError> ValidateResource(const nlohmann::json& object);

}  // namespace weft::control
