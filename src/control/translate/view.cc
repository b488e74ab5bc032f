// Scoping: which services and rules one proxy sees (exportTo, Sidecar egress hosts), and which
// VirtualService / DestinationRule applies to a service, with Istio's precedence rules.
#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"

namespace weft::control::translate::internal {
namespace {

std::vector<std::string> Strings(const json& array) {
  std::vector<std::string> out;
  if (!array.is_array()) return out;
  for (const json& s : array) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

Config ConfigOf(const json& r) {
  Config c;
  c.kind = Str(r, "kind");
  const json& meta = Obj(r, "metadata");
  c.namespace_ = Str(meta, "namespace");
  if (c.namespace_.empty()) c.namespace_ = "default";
  c.name = Str(meta, "name");
  c.creation = Str(meta, "creationTimestamp");
  c.spec = Obj(r, "spec");
  return c;
}

bool Older(const Config& a, const Config& b) {
  return std::tie(a.creation, a.namespace_, a.name) < std::tie(b.creation, b.namespace_, b.name);
}

// Hosts of a VirtualService or DestinationRule resolved in the rule's namespace.
bool RuleHostMatches(const Config& rule, const Service& service, bool* exact) {
  const json& spec = rule.spec;
  std::vector<std::string> hosts = rule.kind == "VirtualService"
                                       ? Strings(Arr(spec, "hosts"))
                                       : std::vector<std::string>{Str(spec, "host")};
  bool any = false;
  for (const std::string& h : hosts) {
    const std::string fqdn = ResolveHost(h, rule.namespace_);
    if (fqdn == service.hostname) {
      *exact = true;
      return true;
    }
    if (HostMatches(fqdn, service.hostname) && fqdn.find('*') != std::string::npos) any = true;
  }
  *exact = false;
  return any;
}

}  // namespace

Labels LabelsFromJson(const json& j) {
  Labels out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

uint32_t U32(const json& j, std::string_view key, uint32_t fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_number() ? it->get<uint32_t>() : fallback;
}

std::string Str(const json& j, std::string_view key) {
  if (!j.is_object()) return "";
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& Obj(const json& j, std::string_view key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

const json& Arr(const json& j, std::string_view key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  const auto it = j.find(std::string(key));
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

View::View(const Snapshot& snapshot, const ProxyIdentity& proxy)
    : proxy_(proxy), mesh_(snapshot.mesh), root_namespace_(snapshot.mesh.root_namespace) {
  std::vector<Config> sidecars;
  for (const json& r : snapshot.resources) {
    if (!r.is_object()) continue;
    if (r.value("kind", "") == "Secret") {
      const json& meta = Obj(r, "metadata");
      if (Str(meta, "namespace") == proxy.namespace_) secrets_[Str(meta, "name")] = &r;
      continue;
    }
    Config c = ConfigOf(r);
    if (c.kind == "VirtualService") {
      if (ExportedTo(Strings(Arr(c.spec, "exportTo")), c.namespace_)) {
        virtual_services_.push_back(std::move(c));
      }
    } else if (c.kind == "DestinationRule") {
      if (ExportedTo(Strings(Arr(c.spec, "exportTo")), c.namespace_)) {
        destination_rules_.push_back(std::move(c));
      }
    } else if (c.kind == "Sidecar") {
      sidecars.push_back(std::move(c));
    } else if (c.kind == "PeerAuthentication" || c.kind == "AuthorizationPolicy" ||
               c.kind == "RequestAuthentication") {
      // Istio's scope of security.istio.io policies: the root namespace's apply to every
      // workload, others to their own namespace's; a selector narrows to matching labels.
      if (c.namespace_ != proxy.namespace_ && c.namespace_ != root_namespace_) continue;
      const json& selector = Obj(c.spec, "selector");
      if (!selector.empty() &&
          !LabelsMatch(LabelsFromJson(Obj(selector, "matchLabels")), proxy.labels)) {
        continue;
      }
      auto& list = c.kind == "PeerAuthentication"    ? peer_authentications_
                   : c.kind == "AuthorizationPolicy" ? authorization_policies_
                                                     : request_authentications_;
      list.push_back(std::move(c));
    }
  }
  for (auto* list : {&peer_authentications_, &authorization_policies_, &request_authentications_}) {
    std::sort(list->begin(), list->end(), Older);
  }
  std::sort(virtual_services_.begin(), virtual_services_.end(), Older);
  std::sort(destination_rules_.begin(), destination_rules_.end(), Older);
  std::sort(sidecars.begin(), sidecars.end(), Older);

  // Istio's Sidecar choice: one in the proxy's namespace whose workloadSelector matches it, else
  // the one there without a selector, else the root namespace's (mesh-wide default).
  auto pick = [&](std::string_view ns, bool with_selector) -> const Config* {
    for (const Config& s : sidecars) {
      if (s.namespace_ != ns) continue;
      const json& selector = Obj(s.spec, "workloadSelector");
      const bool has_selector = !selector.empty();
      if (has_selector != with_selector) continue;
      if (has_selector && !LabelsMatch(LabelsFromJson(Obj(selector, "labels")), proxy.labels))
        continue;
      return &s;
    }
    return nullptr;
  };
  registry_only_ =
      snapshot.mesh.outbound_traffic_policy == MeshConfig::OutboundTrafficPolicy::kRegistryOnly;
  const Config* chosen = pick(proxy.namespace_, true);
  if (chosen == nullptr) chosen = pick(proxy.namespace_, false);
  if (chosen == nullptr) chosen = pick(snapshot.mesh.root_namespace, false);
  if (chosen != nullptr) {
    sidecar_ = *chosen;
    // Istio's rule: a Sidecar's outboundTrafficPolicy, when it sets one, replaces the mesh's.
    const std::string mode = Str(Obj(chosen->spec, "outboundTrafficPolicy"), "mode");
    if (mode == "REGISTRY_ONLY") registry_only_ = true;
    if (mode == "ALLOW_ANY") registry_only_ = false;
    for (const json& egress : Arr(chosen->spec, "egress")) {
      if (egress.contains("port") || egress.contains("bind")) {
        Warn(absl::StrCat(chosen->Id(),
                          ": egress port/bind: not supported yet (hosts apply to "
                          "every port)"));
      }
    }
    if (!Arr(chosen->spec, "ingress").empty()) {
      Warn(absl::StrCat(chosen->Id(), ": ingress: not supported yet (skipped)"));
    }
  }

  for (const Service& s : snapshot.registry.services) {
    if (!ExportedTo(s.export_to, s.namespace_) || !EgressAllows(s)) continue;
    // One service per hostname: the proxy's own namespace wins, else the first namespace.
    auto same = std::find_if(services_.begin(), services_.end(),
                             [&](const Service* o) { return o->hostname == s.hostname; });
    if (same == services_.end()) {
      services_.push_back(&s);
    } else if (s.namespace_ == proxy.namespace_) {
      *same = &s;
    }
  }
}

bool View::ExportedTo(const std::vector<std::string>& export_to,
                      const std::string& owner_ns) const {
  if (export_to.empty()) return true;
  for (const std::string& e : export_to) {
    if (e == "*") return true;
    if (e == "." && owner_ns == proxy_.namespace_) return true;
    if (e == proxy_.namespace_) return true;
  }
  return false;
}

bool View::EgressAllows(const Service& service) const {
  if (!sidecar_) return true;
  const json& egress = Arr(sidecar_->spec, "egress");
  if (egress.empty()) return true;
  for (const json& listener : egress) {
    for (const std::string& entry : Strings(Arr(listener, "hosts"))) {
      const size_t slash = entry.find('/');
      if (slash == std::string::npos) continue;  // validation requires "ns/host"
      const std::string ns = entry.substr(0, slash);
      const std::string host = entry.substr(slash + 1);
      const bool ns_ok = ns == "*" || (ns == "." && service.namespace_ == sidecar_->namespace_) ||
                         ns == service.namespace_;
      if (ns_ok && HostMatches(host, service.hostname)) return true;
    }
  }
  return false;
}

const Service* View::FindService(std::string_view fqdn) const {
  for (const Service* s : services_) {
    if (s->hostname == fqdn) return s;
  }
  return nullptr;
}

const Config* View::VirtualServiceFor(const Service& service) const {
  const Config* wildcard = nullptr;
  for (const Config& vs : virtual_services_) {
    // Sidecars apply rules bound to the reserved "mesh" gateway (the default when none is set).
    const std::vector<std::string> gateways = Strings(Arr(vs.spec, "gateways"));
    if (!gateways.empty() &&
        std::find(gateways.begin(), gateways.end(), "mesh") == gateways.end()) {
      continue;
    }
    bool exact = false;
    if (!RuleHostMatches(vs, service, &exact)) continue;
    if (exact) return &vs;
    if (wildcard == nullptr) wildcard = &vs;
  }
  return wildcard;
}

const Config* View::DestinationRuleFor(const Service& service) const {
  for (std::string_view ns :
       {std::string_view(proxy_.namespace_), std::string_view(service.namespace_),
        std::string_view(root_namespace_)}) {
    const Config* wildcard = nullptr;
    for (const Config& dr : destination_rules_) {
      if (dr.namespace_ != ns) continue;
      bool exact = false;
      if (!RuleHostMatches(dr, service, &exact)) continue;
      const json& selector = Obj(dr.spec, "workloadSelector");
      if (!selector.empty() &&
          !LabelsMatch(LabelsFromJson(Obj(selector, "labels")), proxy_.labels)) {
        continue;
      }
      if (exact) return &dr;
      if (wildcard == nullptr) wildcard = &dr;
    }
    if (wildcard != nullptr) return wildcard;
  }
  return nullptr;
}

}  // namespace weft::control::translate::internal
