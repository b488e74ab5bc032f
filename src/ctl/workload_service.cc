#include "ctl/workload_service.h"

#include <cstdio>

#include "ctl/json_fields.h"

namespace weft::ctl {
namespace {

std::string ServiceEntries(const std::string& ns) {
  return "/apis/networking.istio.io/v1/namespaces/" + EscapePathSegment(ns) + "/serviceentries";
}

std::string ServerMessage(const Response& r) {
  std::string message = TextField(r.body, "message");
  return message.empty() ? "HTTP " + std::to_string(r.status) : message;
}

}  // namespace

bool EnsureService(Client& client, WorkloadRecord& w, std::vector<std::string>* warnings,
                   std::string* error) {
  const std::string path = ServiceEntries(w.ns) + "/" + EscapePathSegment(w.service);
  Response existing = client.Get(path);
  if (existing.status == 0) {
    *error = "weftd is not reachable at " + client.Authority() +
             " (is it running? `weftctl install` starts it)";
    return false;
  }
  if (existing.status == 404) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : w.ports) {
      ports.push_back({{"number", p.number}, {"name", p.name}, {"protocol", p.protocol}});
    }
    nlohmann::json se = {{"apiVersion", "networking.istio.io/v1"},
                         {"kind", "ServiceEntry"},
                         {"metadata",
                          {{"name", w.service},
                           {"namespace", w.ns},
                           {"annotations", {{kCreatedByAnnotation, kCreatedByValue}}}}},
                         {"spec",
                          {{"hosts", {w.service}},
                           {"location", "MESH_INTERNAL"},
                           {"resolution", "STATIC"},
                           {"ports", ports},
                           {"workloadSelector", {{"labels", {{"app", w.service}}}}}}}};
    Response created = client.Call("POST", ServiceEntries(w.ns), se.dump());
    // 409: another add-to-mesh of the same service created it in between; adopt it below.
    if (created.status == 409) return EnsureService(client, w, warnings, error);
    if (created.status < 200 || created.status >= 300) {
      *error = "creating ServiceEntry " + w.ns + "/" + w.service + ": " + ServerMessage(created);
      return false;
    }
    w.created_service = true;
    return true;
  }
  if (existing.status != 200) {
    *error = "reading ServiceEntry " + w.ns + "/" + w.service + ": " + ServerMessage(existing);
    return false;
  }
  const nlohmann::json& spec = Field(existing.body, "spec");
  for (auto& p : w.ports) {
    bool found = false;
    for (const auto& sp : Items(spec, "ports")) {
      if (sp.is_object() && sp.value("number", 0) == p.number) {
        p.name = TextField(sp, "name", p.name);
        p.protocol = TextField(sp, "protocol", p.protocol);
        found = true;
      }
    }
    if (!found) {
      warnings->push_back("ServiceEntry " + w.ns + "/" + w.service + " has no port " +
                          std::to_string(p.number) + ": no mesh traffic will reach it");
    }
  }
  const nlohmann::json& selector = Field(Field(spec, "workloadSelector"), "labels");
  if (selector.is_object()) {
    for (const auto& [key, value] : selector.items()) {
      auto it = w.labels.find(key);
      std::string have = key == "app" && it == w.labels.end() ? w.service
                         : it == w.labels.end()               ? ""
                                                              : it->second;
      if (!value.is_string() || have != value.get<std::string>()) {
        warnings->push_back("ServiceEntry " + w.ns + "/" + w.service + " selects workloads with " +
                            key + "=" + Text(value) + ": this one is not among them (add --label " +
                            key + "=" + Text(value) + ")");
      }
    }
  }
  return true;
}

void DeleteServiceIfUnused(const WorkloadRecord& w) {
  if (w.server.empty() || w.service.empty()) return;
  for (const auto& other : ListWorkloadNames()) {
    std::string error;
    auto o = ReadWorkload(other, &error);
    if (o && o->name != w.name && o->ns == w.ns && o->service == w.service) return;
  }
  Client client(w.server);
  const std::string path = ServiceEntries(w.ns) + "/" + EscapePathSegment(w.service);
  Response se = client.Get(path);
  if (se.status != 200) return;
  const nlohmann::json& annotations = Field(Field(se.body, "metadata"), "annotations");
  if (TextField(annotations, kCreatedByAnnotation) != kCreatedByValue) return;
  Response deleted = client.Call("DELETE", path);
  if (deleted.status == 200) {
    std::fprintf(stderr, "ServiceEntry %s/%s deleted (its last workload left)\n", w.ns.c_str(),
                 w.service.c_str());
  }
}

}  // namespace weft::ctl
