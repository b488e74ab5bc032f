#include "control/translate/registry.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;

using internal::Str;
using internal::U32;

Labels LabelsOf(const json& j) { return internal::LabelsFromJson(j); }

std::string NamespaceOf(const json& resource) {
  std::string ns = Str(internal::Obj(resource, "metadata"), "namespace");
  return ns.empty() ? "default" : ns;
}

Resolution ResolutionOf(std::string_view s) {
  if (s == "DNS") return Resolution::kDns;
  if (s == "DNS_ROUND_ROBIN") return Resolution::kDnsRoundRobin;
  if (s == "NONE") return Resolution::kNone;
  return Resolution::kStatic;
}

}  // namespace

Endpoint EndpointOf(const json& spec, std::string name) {
  Endpoint e;
  e.address = Str(spec, "address");
  if (const auto it = spec.find("ports"); it != spec.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_number()) e.ports[k] = v.get<uint32_t>();
    }
  }
  e.labels = LabelsOf(internal::Obj(spec, "labels"));
  e.locality = Str(spec, "locality");
  e.weight = U32(spec, "weight");
  e.network = Str(spec, "network");
  e.service_account = Str(spec, "serviceAccount");
  e.name = std::move(name);
  return e;
}

namespace {

bool EndpointLess(const Endpoint& a, const Endpoint& b) {
  return std::tie(a.address, a.name, a.ports) < std::tie(b.address, b.name, b.ports);
}

void AddServiceEntry(const json& se, Registry& out) {
  // References, not json::value() copies: a rebuild reads every ServiceEntry.
  const json& spec = internal::Obj(se, "spec");
  const std::string ns = NamespaceOf(se);
  const std::string name = Str(internal::Obj(se, "metadata"), "name");
  Service base;
  base.namespace_ = ns;
  for (const json& p : internal::Arr(spec, "ports")) {
    ServicePort port;
    port.number = U32(p, "number");
    port.name = Str(p, "name");
    port.protocol = absl::AsciiStrToUpper(Str(p, "protocol"));
    port.target_port = U32(p, "targetPort");
    if (port.number != 0) base.ports.push_back(std::move(port));
  }
  std::sort(base.ports.begin(), base.ports.end(),
            [](const ServicePort& a, const ServicePort& b) { return a.number < b.number; });
  for (const json& a : internal::Arr(spec, "addresses")) {
    if (a.is_string()) base.addresses.push_back(a.get<std::string>());
  }
  base.resolution = ResolutionOf(Str(spec, "resolution"));
  base.mesh_internal = Str(spec, "location") == "MESH_INTERNAL";
  for (const json& e : internal::Arr(spec, "exportTo")) {
    if (e.is_string()) base.export_to.push_back(e.get<std::string>());
  }
  if (const auto it = spec.find("workloadSelector"); it != spec.end() && it->is_object()) {
    base.has_workload_selector = true;
    base.workload_selector = LabelsOf(it->value("labels", json::object()));
  }
  const json& endpoints = internal::Arr(spec, "endpoints");
  for (size_t i = 0; i < endpoints.size(); ++i) {
    base.endpoints.push_back(
        EndpointOf(endpoints[i], absl::StrCat("ServiceEntry/", ns, "/", name, "[", i, "]")));
  }
  // One service per host, as Istio's registry does.
  for (const json& h : internal::Arr(spec, "hosts")) {
    if (!h.is_string()) continue;
    Service s = base;
    s.hostname = ResolveHost(h.get<std::string>(), ns);
    out.services.push_back(std::move(s));
  }
}

void SortServices(Registry& r) {
  std::stable_sort(r.services.begin(), r.services.end(), [](const Service& a, const Service& b) {
    return std::tie(a.hostname, a.namespace_) < std::tie(b.hostname, b.namespace_);
  });
}

}  // namespace

bool Selects(const Service& s, const Workload& w) {
  return s.has_workload_selector && s.namespace_ == w.namespace_ &&
         LabelsMatch(s.workload_selector, w.endpoint.labels);
}

std::vector<std::string> ServiceVips(const Service& service) {
  std::vector<std::string> vips;
  for (const std::string& a : service.addresses) {
    if (a.find('/') == std::string::npos) vips.push_back(a);
  }
  if (vips.empty() && !service.allocated_vip.empty()) vips.push_back(service.allocated_vip);
  return vips;
}

std::string ResolveHost(std::string_view host, std::string_view namespace_) {
  if (host.empty() || host.find('.') != std::string_view::npos || host == "*") {
    return std::string(host);
  }
  return absl::StrCat(absl::string_view(host.data(), host.size()), ".",
                      absl::string_view(namespace_.data(), namespace_.size()), ".",
                      absl::string_view(kDomainSuffix.data(), kDomainSuffix.size()));
}

bool HostMatches(std::string_view pattern, std::string_view host) {
  if (pattern == "*" || host == "*") return true;
  if (pattern == host) return true;
  auto covers = [](std::string_view wildcard, std::string_view name) {
    if (wildcard.size() < 2 || wildcard[0] != '*') return false;
    const std::string_view suffix = wildcard.substr(1);  // ".example.com"
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  return covers(pattern, host) || covers(host, pattern);
}

bool LabelsMatch(const Labels& selector, const Labels& labels) {
  for (const auto& [k, v] : selector) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string PortProtocol(const ServicePort& port) {
  if (!port.protocol.empty()) return port.protocol;
  // Istio's "<protocol>[-<suffix>]" port naming.
  const std::string prefix = absl::AsciiStrToUpper(port.name.substr(0, port.name.find('-')));
  for (std::string_view known : {"HTTP", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS", "HTTPS"}) {
    if (prefix == known) return prefix;
  }
  return "";
}

bool IsHttpProtocol(std::string_view protocol) {
  return protocol == "HTTP" || protocol == "HTTP2" || protocol == "GRPC" ||
         protocol == "GRPC-WEB" || protocol == "HTTP_PROXY";
}

void AddWorkload(Registry& registry, Workload workload) {
  for (Service& s : registry.services) {
    if (!Selects(s, workload)) continue;
    s.endpoints.push_back(workload.endpoint);
    std::sort(s.endpoints.begin(), s.endpoints.end(), EndpointLess);
  }
  registry.workloads.push_back(std::move(workload));
}

Registry BuildRegistry(const std::vector<json>& resources) {
  Registry out;
  std::vector<Workload> workloads;
  for (const json& r : resources) {
    if (!r.is_object()) continue;
    const std::string kind = Str(r, "kind");
    const std::string ns = NamespaceOf(r);
    const std::string name = Str(internal::Obj(r, "metadata"), "name");
    if (kind == "ServiceEntry") {
      AddServiceEntry(r, out);
    } else if (kind == "WorkloadEntry") {
      workloads.push_back(Workload{ns, EndpointOf(r.value("spec", json::object()),
                                                  absl::StrCat("WorkloadEntry/", ns, "/", name))});
    } else if (kind == "WorkloadGroup") {
      const json spec = r.value("spec", json::object());
      json tmpl = spec.value("template", json::object());
      // The group's metadata labels apply to every workload registered under it.
      const json group_labels =
          spec.value("metadata", json::object()).value("labels", json::object());
      for (const auto& [k, v] : group_labels.items()) tmpl["labels"][k] = v;
      out.workload_groups[absl::StrCat(ns, "/", name)] = std::move(tmpl);
    }
  }
  SortServices(out);
  for (Service& s : out.services) {
    std::sort(s.endpoints.begin(), s.endpoints.end(), EndpointLess);
  }
  std::sort(workloads.begin(), workloads.end(), [](const Workload& a, const Workload& b) {
    return std::tie(a.namespace_, a.endpoint.name) < std::tie(b.namespace_, b.endpoint.name);
  });
  for (Workload& w : workloads) AddWorkload(out, std::move(w));
  return out;
}

}  // namespace weft::control::translate
