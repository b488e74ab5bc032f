#include "control/mesh/workload_registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status.h"
#include "control/mesh/state_file.h"

namespace weft::control::mesh {
namespace {

std::string WorkloadName(const NodeIdentity& node) {
  // Istio names an auto-registered WorkloadEntry "<group>-<ip>" with ':' made '-' (IPv6)
  // (pilot/pkg/autoregistration/controller.go, GenerateWorkloadEntryName).
  if (!node.auto_register_group.empty()) {
    std::string ip = node.ip;
    std::replace(ip.begin(), ip.end(), ':', '-');
    return absl::StrCat(node.auto_register_group, "-", ip);
  }
  return node.name.empty() ? node.node_id : node.name;
}

translate::Endpoint EndpointOfNode(const NodeIdentity& node, const std::string& name) {
  translate::Endpoint e;
  e.address = node.ip;
  for (const PodPort& p : node.pod_ports) {
    if (!p.name.empty()) e.ports[p.name] = p.container_port;
  }
  e.labels = node.labels;
  // Istio's injector label: clients reach this workload with auto mTLS (security.cc).
  if (node.mtls) e.labels["security.istio.io/tlsMode"] = "istio";
  e.locality = node.locality;
  e.network = node.network;
  e.service_account = node.service_account;
  e.name = absl::StrCat("Proxy/", node.namespace_, "/", name);
  return e;
}

// The state file's form of a workload (WorkloadEntry field names where there is one).
nlohmann::json ToJson(const RegisteredWorkload& w) {
  const translate::Endpoint& e = w.endpoint;
  return {{"nodeId", w.node_id},   {"namespace", w.namespace_},
          {"name", w.name},        {"group", w.group},
          {"address", e.address},  {"ports", e.ports},
          {"labels", e.labels},    {"locality", e.locality},
          {"network", e.network},  {"serviceAccount", e.service_account},
          {"endpointName", e.name}};
}

RegisteredWorkload FromJson(const nlohmann::json& j) {
  RegisteredWorkload w;
  w.node_id = j.at("nodeId").get<std::string>();
  w.namespace_ = j.at("namespace").get<std::string>();
  w.name = j.at("name").get<std::string>();
  w.group = j.at("group").get<std::string>();
  translate::Endpoint& e = w.endpoint;
  e.address = j.at("address").get<std::string>();
  e.ports = j.at("ports").get<std::map<std::string, uint32_t>>();
  e.labels = j.at("labels").get<translate::Labels>();
  e.locality = j.at("locality").get<std::string>();
  e.network = j.at("network").get<std::string>();
  e.service_account = j.at("serviceAccount").get<std::string>();
  e.name = j.at("endpointName").get<std::string>();
  return w;
}

}  // namespace

WorkloadRegistry::WorkloadRegistry(event::Dispatcher& dispatcher, std::chrono::milliseconds grace,
                                   std::function<void()> on_change, std::string state_path)
    : dispatcher_(dispatcher),
      grace_(grace),
      on_change_(std::move(on_change)),
      state_path_(std::move(state_path)) {}

WorkloadRegistry::~WorkloadRegistry() { *alive_ = false; }

absl::Status WorkloadRegistry::Restore() {
  if (state_path_.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::optional<std::string> text, ReadStateFile(state_path_));
  if (!text) return absl::OkStatus();  // first start
  const nlohmann::json state = nlohmann::json::parse(*text, nullptr, false);
  if (!state.is_object() || !state.contains("workloads") || !state["workloads"].is_array()) {
    return absl::DataLossError(absl::StrCat(state_path_, ": not a registrations file"));
  }
  // Proxies that lost weftd retry with a growing back-off (weft-proxy's and Envoy's reach 30 s),
  // so after an outage they may need that long to come back: the grace counts from then.
  const std::chrono::milliseconds restored_grace = grace_ + kProxyReconnectBackoffCap;
  size_t restored = 0;
  for (const nlohmann::json& j : state["workloads"]) {
    RegisteredWorkload w;
    try {
      w = FromJson(j);
    } catch (const nlohmann::json::exception& e) {
      return absl::DataLossError(
          absl::StrCat(state_path_, ": workload ", restored, ": ", e.what()));
    }
    Entry& entry = entries_[w.node_id];
    entry.workload = std::move(w);
    StartGrace(entry, restored_grace);
    ++restored;
  }
  if (restored > 0) {
    WEFT_LOG(info,
             "registry: restored {} workload(s) from {}; each stays {} ms unless its proxy "
             "reconnects",
             restored, state_path_, restored_grace.count());
  }
  return absl::OkStatus();
}

void WorkloadRegistry::ScheduleSave() {
  if (state_path_.empty() || save_scheduled_) return;
  save_scheduled_ = true;
  dispatcher_.Post([this, alive = alive_] {
    if (!*alive) return;
    save_scheduled_ = false;
    Save();
  });
}

void WorkloadRegistry::Save() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [node_id, entry] : entries_) list.push_back(ToJson(entry.workload));
  const std::string text = nlohmann::json{{"workloads", std::move(list)}}.dump(1) + "\n";
  if (absl::Status st = WriteStateFile(state_path_, text); !st.ok()) {
    WEFT_LOG(error, "registry: {}", std::string(st.message()));
  }
}

bool WorkloadRegistry::Register(const NodeIdentity& node) {
  if (node.ip.empty()) return false;
  Entry& entry = entries_[node.node_id];
  if (entry.expiry) entry.expiry->Disable();  // back within the grace period: it stays
  RegisteredWorkload& w = entry.workload;
  const bool returning = !w.node_id.empty() && !w.connected;
  w.node_id = node.node_id;
  w.namespace_ = node.namespace_;
  w.name = WorkloadName(node);
  w.group = node.auto_register_group;
  w.endpoint = EndpointOfNode(node, w.name);
  w.connected = true;
  w.disconnected_at = {};
  ScheduleSave();
  WEFT_LOG(info, "registry: workload {}/{} at {} {} (node '{}', {} port(s){})", w.namespace_,
           w.name, w.endpoint.address, returning ? "reconnected within its grace" : "registered",
           w.node_id, w.endpoint.ports.size(), w.group.empty() ? "" : ", group " + w.group);
  return true;
}

void WorkloadRegistry::MarkDisconnected(const std::string& node_id) {
  auto it = entries_.find(node_id);
  if (it == entries_.end()) return;
  StartGrace(it->second);
  WEFT_LOG(info, "registry: workload {}/{} disconnected; leaves in {} ms unless it reconnects",
           it->second.workload.namespace_, it->second.workload.name, grace_.count());
}

void WorkloadRegistry::StartGrace(Entry& entry) { StartGrace(entry, grace_); }

void WorkloadRegistry::StartGrace(Entry& entry, std::chrono::milliseconds grace) {
  entry.workload.connected = false;
  entry.workload.disconnected_at = dispatcher_.SystemNow();
  if (!entry.expiry) {
    entry.expiry =
        dispatcher_.CreateTimer([this, node_id = entry.workload.node_id] { Expire(node_id); });
  }
  entry.expiry->Enable(grace);
}

void WorkloadRegistry::Expire(const std::string& node_id) {
  auto it = entries_.find(node_id);
  if (it == entries_.end() || it->second.workload.connected) return;
  WEFT_LOG(info, "registry: workload {}/{} (node '{}') removed after its grace period",
           it->second.workload.namespace_, it->second.workload.name, node_id);
  // This runs inside the timer's own callback: the timer is destroyed once the stack unwinds.
  dispatcher_.DeferredDelete(event::DeferLater(std::move(it->second.expiry)));
  entries_.erase(it);
  ScheduleSave();
  on_change_();
}

translate::Workload WorkloadRegistry::Resolve(const RegisteredWorkload& w,
                                              const translate::Registry& registry) const {
  translate::Workload out{w.namespace_, w.endpoint};
  if (w.group.empty()) return out;
  const auto group = registry.workload_groups.find(absl::StrCat(w.namespace_, "/", w.group));
  if (group == registry.workload_groups.end()) return out;  // the group may be applied later
  // The template (its labels already carry the group's metadata labels, BuildRegistry), then
  // the node's own values over it (Istio's workloadEntryFromGroup: node metadata >
  // WorkloadGroup.metadata > WorkloadGroup.template; address and locality from the node).
  translate::Endpoint e = translate::EndpointOf(group->second, w.endpoint.name);
  e.address = w.endpoint.address;
  for (const auto& [k, v] : w.endpoint.labels) e.labels[k] = v;
  for (const auto& [name, port] : w.endpoint.ports) e.ports[name] = port;
  if (!w.endpoint.locality.empty()) e.locality = w.endpoint.locality;
  if (!w.endpoint.network.empty()) e.network = w.endpoint.network;
  if (!w.endpoint.service_account.empty()) e.service_account = w.endpoint.service_account;
  out.endpoint = std::move(e);
  return out;
}

void WorkloadRegistry::AddTo(translate::Registry& registry) const {
  for (const auto& [node_id, entry] : entries_) {
    translate::AddWorkload(registry, Resolve(entry.workload, registry));
  }
}

std::vector<translate::ServicePort> WorkloadRegistry::InboundPorts(
    const std::string& node_id, const translate::Registry& registry) const {
  std::vector<translate::ServicePort> ports;
  const auto it = entries_.find(node_id);
  if (it == entries_.end()) return ports;
  const translate::Workload workload = Resolve(it->second.workload, registry);
  std::set<uint32_t> seen;
  for (const translate::Service& s : registry.services) {
    if (!translate::Selects(s, workload)) continue;
    for (const translate::ServicePort& p : s.ports) {
      // Where peers reach this workload for `p` (as the translator picks the endpoint port).
      uint32_t number = p.target_port != 0 ? p.target_port : p.number;
      if (auto named = workload.endpoint.ports.find(p.name);
          named != workload.endpoint.ports.end()) {
        number = named->second;
      }
      if (!seen.insert(number).second) continue;  // two services on one port: one listener
      translate::ServicePort inbound = p;
      inbound.protocol = translate::PortProtocol(p);
      inbound.number = number;
      inbound.target_port = number;
      ports.push_back(std::move(inbound));
    }
  }
  std::sort(ports.begin(), ports.end(),
            [](const auto& a, const auto& b) { return a.number < b.number; });
  return ports;
}

bool WorkloadRegistry::SelectedByAny(const std::string& node_id,
                                     const translate::Registry& registry) const {
  const auto it = entries_.find(node_id);
  if (it == entries_.end()) return false;
  const translate::Workload workload = Resolve(it->second.workload, registry);
  return std::any_of(registry.services.begin(), registry.services.end(),
                     [&](const translate::Service& s) { return translate::Selects(s, workload); });
}

std::vector<RegisteredWorkload> WorkloadRegistry::List() const {
  std::vector<RegisteredWorkload> out;
  out.reserve(entries_.size());
  for (const auto& [node_id, entry] : entries_) out.push_back(entry.workload);
  return out;
}

}  // namespace weft::control::mesh
