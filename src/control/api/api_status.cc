#include "control/api/api_status.h"

#include "absl/strings/str_cat.h"

namespace weft::control {
namespace {

using nlohmann::json;

ApiError Make(uint32_t code, std::string_view reason, std::string message, json details = nullptr) {
  json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", reason},
                 {"code", code}};
  if (!details.is_null()) status["details"] = std::move(details);
  return ApiError{code, std::move(status)};
}

// "virtualservices.networking.istio.io" -> name/group/kind details.
json Details(std::string_view resource, std::string_view name) {
  size_t dot = resource.find('.');
  json d = {{"name", name}, {"kind", resource.substr(0, dot)}};
  if (dot != std::string_view::npos) d["group"] = resource.substr(dot + 1);
  return d;
}

std::string Quoted(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

}  // namespace

ApiError NotFound(std::string_view resource, std::string_view name) {
  return Make(404, "NotFound", absl::StrCat(std::string(resource), " ", Quoted(name), " not found"),
              Details(resource, name));
}

ApiError AlreadyExists(std::string_view resource, std::string_view name) {
  return Make(409, "AlreadyExists",
              absl::StrCat(std::string(resource), " ", Quoted(name), " already exists"),
              Details(resource, name));
}

ApiError Conflict(std::string_view resource, std::string_view name, std::string_view why) {
  return Make(409, "Conflict",
              absl::StrCat("Operation cannot be fulfilled on ", std::string(resource), " ",
                           Quoted(name), ": ", std::string(why)),
              Details(resource, name));
}

ApiError Invalid(std::string_view kind_group, std::string_view name,
                 const std::vector<FieldError>& errors) {
  json causes = json::array();
  std::string list;
  for (const FieldError& e : errors) {
    causes.push_back(
        {{"reason", CauseTypeName(e.type)}, {"message", e.message}, {"field", e.field}});
    absl::StrAppend(&list, list.empty() ? "" : ", ", FormatFieldError(e));
  }
  if (errors.size() > 1) list = absl::StrCat("[", list, "]");
  size_t dot = kind_group.find('.');
  json details = {{"name", name}, {"kind", kind_group.substr(0, dot)}, {"causes", causes}};
  if (dot != std::string_view::npos) details["group"] = kind_group.substr(dot + 1);
  return Make(422, "Invalid",
              absl::StrCat(std::string(kind_group), " ", Quoted(name), " is invalid: ", list),
              std::move(details));
}

ApiError BadRequest(std::string_view message) {
  return Make(400, "BadRequest", std::string(message));
}

ApiError UnknownPath() {
  return Make(404, "NotFound", "the server could not find the requested resource", json::object());
}

ApiError MethodNotAllowed() {
  return Make(405, "MethodNotAllowed",
              "the server does not allow this method on the requested resource");
}

ApiError Expired(std::string_view message) { return Make(410, "Expired", std::string(message)); }

ApiError InternalError(std::string_view message) {
  return Make(500, "InternalError", std::string(message));
}

ApiError FromStoreStatus(const absl::Status& status, std::string_view resource,
                         std::string_view name) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return NotFound(resource, name);
    case absl::StatusCode::kAlreadyExists:
      return AlreadyExists(resource, name);
    case absl::StatusCode::kAborted:
      return Conflict(resource, name, std::string(status.message()));
    case absl::StatusCode::kOutOfRange:
      return Expired(std::string(status.message()));
    default:
      return control::InternalError(std::string(status.message()));
  }
}

}  // namespace weft::control
