#include "control/api/debug_api.h"

#include <nlohmann/json.hpp>
#include <set>

#include "control/api/api_status.h"
#include "control/xds/resource_json.h"
#include "control/xds/sync_status.h"

namespace weft::control {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/debug/proxies";
constexpr std::string_view kConfigSuffix = "/config";
constexpr const char kJson[] = "application/json";

// The four types in push order, as weftctl names them.
constexpr const char* kTypes[] = {xds::kClusterType, xds::kEndpointType, xds::kListenerType,
                                  xds::kRouteType};

const char* TypeUrlOf(std::string_view config_type) {
  if (config_type == "clusters") return xds::kClusterType;
  if (config_type == "endpoints") return xds::kEndpointType;
  if (config_type == "listeners") return xds::kListenerType;
  if (config_type == "routes") return xds::kRouteType;
  return nullptr;
}

void Reply(HttpExchange& exchange, const ApiError& error) {
  exchange.Respond(error.code, kJson, error.status.dump());
}

json TypeJson(const std::string& type_url, const xds::TypeStatus& t) {
  return {{"type_url", type_url},
          {"status", xds::SyncStateName(xds::ComputeSyncState(t))},
          {"sent_version", t.sent_version},
          {"sent_nonce", t.sent_nonce},
          {"acked_version", t.acked_version},
          {"nack_version", t.nack_version},
          {"nack_error", t.nack_error},
          {"last_nack_version", t.last_nack_version},
          {"last_nack_error", t.last_nack_error},
          {"pushes", t.pushes},
          {"acks", t.acks},
          {"nacks", t.nacks}};
}

json ProxyJson(const std::string& node_id, const xds::NodeStatus& status,
               const std::optional<ProxyTranslation>& info) {
  json types = json::object();
  for (const char* url : kTypes) {
    auto it = status.types.find(url);
    types[std::string(xds::ShortTypeName(url))] =
        TypeJson(url, it == status.types.end() ? xds::TypeStatus{} : it->second);
  }
  // Types beyond the four (a fixture's, a future one) still show, under their URL.
  for (const auto& [url, t] : status.types) {
    if (!types.contains(std::string(xds::ShortTypeName(url)))) types[url] = TypeJson(url, t);
  }
  json proxy = {{"node_id", node_id},
                {"open_streams", status.open_streams},
                {"translated", info.has_value()},
                {"types", std::move(types)}};
  proxy["namespace"] = info ? info->namespace_ : "";
  proxy["ip"] = info ? info->ip : "";
  proxy["warnings"] = info ? info->warnings : std::vector<std::string>{};
  // What `weftctl version` lists per proxy (Istio's `istioctl version` data plane rows).
  proxy["userAgent"] = info ? info->user_agent : "";
  proxy["version"] = info ? info->version : "";
  return proxy;
}

}  // namespace

DebugApi::DebugApi(const xds::SnapshotCache& cache, ProxyInfoFn proxy_info,
                   std::function<int64_t()> revision)
    : cache_(cache), proxy_info_(std::move(proxy_info)), revision_(std::move(revision)) {}

bool DebugApi::Serves(const HttpRequest& request) {
  return request.path.rfind("/debug/", 0) == 0 || request.path == "/debug";
}

void DebugApi::Handle(const HttpRequest& request, HttpExchange& exchange) {
  if (request.method != "GET") {
    Reply(exchange, MethodNotAllowed());
    return;
  }
  std::string_view path = request.path;
  if (path == kPrefix || path == std::string(kPrefix) + "/") {
    ListProxies(exchange);
    return;
  }
  if (path.rfind(std::string(kPrefix) + "/", 0) != 0) {
    Reply(exchange, UnknownPath());
    return;
  }
  std::string_view rest = path.substr(kPrefix.size() + 1);
  const bool config = rest.size() > kConfigSuffix.size() &&
                      rest.substr(rest.size() - kConfigSuffix.size()) == kConfigSuffix;
  if (config) rest.remove_suffix(kConfigSuffix.size());
  const std::string node_id(rest);
  if (!Known(node_id)) {
    Reply(exchange, NotFound("proxies", node_id));
    return;
  }
  if (config) {
    GetConfig(node_id, request, exchange);
  } else {
    GetProxy(node_id, exchange);
  }
}

bool DebugApi::Known(const std::string& node_id) const {
  return cache_.Status(node_id).has_value() || (proxy_info_ && proxy_info_(node_id).has_value());
}

void DebugApi::ListProxies(HttpExchange& exchange) {
  std::map<std::string, xds::NodeStatus> statuses = cache_.AllStatuses();
  json proxies = json::array();
  for (const auto& [node_id, status] : statuses) {
    proxies.push_back(
        ProxyJson(node_id, status, proxy_info_ ? proxy_info_(node_id) : std::nullopt));
  }
  json body = {{"weftd", {{"version", kWeftdVersion}, {"revision", revision_ ? revision_() : 0}}},
               {"proxies", std::move(proxies)}};
  exchange.Respond(200, kJson, body.dump());
}

void DebugApi::GetProxy(const std::string& node_id, HttpExchange& exchange) {
  json proxy = ProxyJson(node_id, cache_.Status(node_id).value_or(xds::NodeStatus{}),
                         proxy_info_ ? proxy_info_(node_id) : std::nullopt);
  proxy["weftd"] = {{"version", kWeftdVersion}, {"revision", revision_ ? revision_() : 0}};
  exchange.Respond(200, kJson, proxy.dump());
}

void DebugApi::GetConfig(const std::string& node_id, const HttpRequest& request,
                         HttpExchange& exchange) {
  auto type_param = request.query.find("type");
  const std::string config_type = type_param == request.query.end() ? "" : type_param->second;
  const char* type_url = TypeUrlOf(config_type);
  if (type_url == nullptr) {
    Reply(exchange,
          BadRequest("type must be one of clusters, endpoints, listeners, routes (got \"" +
                     config_type + "\")"));
    return;
  }
  json resources = json::array();
  std::string version;
  if (std::shared_ptr<const xds::Snapshot> snapshot = cache_.GetSnapshot(node_id)) {
    if (auto it = snapshot->find(type_url); it != snapshot->end()) {
      version = it->second.version;
      for (const auto& [name, any] : it->second.resources) {  // a std::map: sorted by name
        auto text = xds::ResourceToJson(any);
        if (!text.ok()) {
          Reply(exchange, InternalError(name + ": " + std::string(text.status().message())));
          return;
        }
        resources.push_back(json::parse(*text));
      }
    }
  }
  json body = {{"node_id", node_id},
               {"type", config_type},
               {"type_url", type_url},
               {"version", version},
               {"resources", std::move(resources)}};
  exchange.Respond(200, kJson, body.dump());
}

}  // namespace weft::control
