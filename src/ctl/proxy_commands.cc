#include "ctl/proxy_commands.h"

#include <cstdio>

#include "ctl/json_fields.h"
#include "ctl/output.h"
#include "ctl/proxy_tables.h"

namespace weft::ctl {
namespace {

using nlohmann::json;

// The node id `arg` names among the proxies weftd knows ("" after printing why not).
std::string Resolve(Client& client, const std::string& arg, json* listing = nullptr) {
  Response r = client.Get("/debug/proxies");
  if (r.status != 200) {
    ServerError(r);
    return "";
  }
  std::vector<std::string> ids;
  for (const json& p : Items(r.body, "proxies")) ids.push_back(TextField(p, "node_id"));
  ProxyChoice choice = ResolveProxy(ids, arg);
  if (!choice.error.empty()) std::fprintf(stderr, "error: %s\n", choice.error.c_str());
  if (listing) *listing = std::move(r.body);
  return choice.node_id;
}

}  // namespace

int ProxyStatus(Client& client, const std::string& proxy, const std::string& output) {
  if (proxy.empty()) {
    Response r = client.Get("/debug/proxies");
    if (r.status != 200) return ServerError(r);
    if (output == "json") {
      PrintJson(r.body);
      return 0;
    }
    Table table = ProxyStatusTable(r.body);
    if (table.rows() == 0) {
      std::fprintf(stderr, "No proxies are connected to weftd at %s.\n",
                   client.Authority().c_str());
      return 0;
    }
    table.Print();
    std::fputs(NackErrors(r.body).c_str(), stdout);
    return 0;
  }
  const std::string node_id = Resolve(client, proxy);
  if (node_id.empty()) return 1;
  Response r = client.Get("/debug/proxies/" + EscapePathSegment(node_id));
  if (r.status != 200) return ServerError(r);
  if (output == "json") {
    PrintJson(r.body);
  } else {
    std::fputs(ProxyStatusDetails(r.body).c_str(), stdout);
  }
  return 0;
}

int ProxyConfig(Client& client, const std::string& type, const std::string& proxy,
                const std::string& output) {
  const std::string node_id = Resolve(client, proxy);
  if (node_id.empty()) return 1;
  Response r = client.Get("/debug/proxies/" + EscapePathSegment(node_id) + "/config?type=" + type);
  if (r.status != 200) return ServerError(r);
  const json& resources = Items(r.body, "resources");
  if (output == "json") {
    PrintJson(resources);
    return 0;
  }
  if (output == "yaml") {
    PrintYaml(resources);
    return 0;
  }
  if (type == "clusters") {
    ClustersTable(resources).Print();
  } else if (type == "listeners") {
    ListenersTable(resources).Print();
  } else if (type == "routes") {
    // To name the VirtualService a virtual host came from; the table still prints without.
    Response vs = client.Get("/apis/networking.istio.io/v1/virtualservices");
    RoutesTable(resources, vs.status == 200 ? vs.body : json()).Print();
  } else {
    EndpointsTable(resources).Print();
  }
  return 0;
}

}  // namespace weft::ctl
