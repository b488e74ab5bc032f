#include "control/api/lifecycle_api.h"

#include <nlohmann/json.hpp>

#include "control/api/api_status.h"
#include "control/model/kinds.h"
#include "weft_version.h"

namespace weft::control {
namespace {

using nlohmann::json;

constexpr std::string_view kVersionPath = "/version";
constexpr std::string_view kStoredVersionsPath = "/debug/storedversions";
constexpr const char kJson[] = "application/json";

std::string Text(const json& o, const char* a, const char* b = nullptr) {
  const json* v = &o;
  for (const char* key : {a, b}) {
    if (key == nullptr) break;
    if (!v->is_object() || !v->contains(key)) return "";
    v = &(*v)[key];
  }
  return v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

bool LifecycleApi::Serves(const HttpRequest& request) {
  return request.path == kVersionPath || request.path == kStoredVersionsPath;
}

void LifecycleApi::Handle(const HttpRequest& request, HttpExchange& exchange) {
  if (request.method != "GET") {
    ApiError e = MethodNotAllowed();
    exchange.Respond(e.code, kJson, e.status.dump());
    return;
  }
  if (request.path == kVersionPath) {
    json body = {{"version", kVersion}, {"revision", revision_}, {"gitCommit", kGitCommit}};
    exchange.Respond(200, kJson, body.dump());
    return;
  }
  json items = json::array();
  for (const KindInfo& kind : AllKinds()) {
    absl::StatusOr<ListResult> list = store_.List(Selector{std::string(kind.kind), ""});
    if (!list.ok()) {
      ApiError e = InternalError(std::string(list.status().message()));
      exchange.Respond(e.code, kJson, e.status.dump());
      return;
    }
    for (const json& o : list->items) {
      items.push_back({{"apiVersion", Text(o, "apiVersion")},
                       {"kind", std::string(kind.kind)},
                       {"namespace", Text(o, "metadata", "namespace")},
                       {"name", Text(o, "metadata", "name")}});
    }
  }
  exchange.Respond(200, kJson, json{{"items", std::move(items)}}.dump());
}

}  // namespace weft::control
