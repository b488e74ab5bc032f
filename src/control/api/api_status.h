// Kubernetes' error answers: a `Status` object (apiVersion v1, kind Status) with code, reason,
// message and details (the resource's name, group, kind and, for 422 Invalid, one cause per bad
// field), as k8s.io/apimachinery/pkg/api/errors builds them, so kubectl-shaped clients read them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "control/model/schema.h"

namespace weft::control {

struct ApiError {
  uint32_t code;
  nlohmann::json status;  // the Status object
};

// `resource` is "virtualservices.networking.istio.io" (plural.group), as Kubernetes names it.
ApiError NotFound(std::string_view resource, std::string_view name);
ApiError AlreadyExists(std::string_view resource, std::string_view name);
ApiError Conflict(std::string_view resource, std::string_view name, std::string_view why);
ApiError Invalid(std::string_view kind_group, std::string_view name,
                 const std::vector<FieldError>& errors);
ApiError BadRequest(std::string_view message);
// A path no API serves: "the server could not find the requested resource".
ApiError UnknownPath();
ApiError MethodNotAllowed();
ApiError Expired(std::string_view message);  // 410, a watch from a compacted resourceVersion
ApiError InternalError(std::string_view message);
// A store error mapped to its Kubernetes answer.
ApiError FromStoreStatus(const absl::Status& status, std::string_view resource,
                         std::string_view name);

}  // namespace weft::control
