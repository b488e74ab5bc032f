// The service registry as the translator sees it: services (from ServiceEntry) and their
// endpoints (ServiceEntry.spec.endpoints, WorkloadEntry, and workloads that weftd registers when
// their proxy connects). BuildRegistry makes this view from stored Istio resources; weftd adds
// self-registered proxies with AddWorkload. Plain data, no protobuf; values are immutable once
// built and safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace weft::control::translate {

using Labels = std::map<std::string, std::string>;

// Istio's cluster-local domain suffix: a short name "reviews" in namespace "default" is
// "reviews.default.svc.cluster.local".
inline constexpr std::string_view kDomainSuffix = "svc.cluster.local";

struct ServicePort {
  uint32_t number = 0;
  std::string name;
  std::string protocol;  // upper case: HTTP, HTTP2, GRPC, TCP, TLS, HTTPS, MONGO, ...; "" = unknown
  uint32_t target_port = 0;  // 0: the endpoint's port for `name`, else `number`
};

// ServiceEntry.spec.resolution.
enum class Resolution { kStatic, kDns, kDnsRoundRobin, kNone };

struct Endpoint {
  std::string address;
  std::map<std::string, uint32_t> ports;  // port name -> endpoint port
  Labels labels;
  std::string locality;  // "region/zone/subzone", any part may be empty
  uint32_t weight = 0;   // 0 = unset
  std::string network;
  std::string service_account;
  std::string name;  // "<kind>/<namespace>/<name>" of what declared it, for diagnostics
};

struct Service {
  std::string hostname;  // FQDN or wildcard ("*.example.com")
  std::string namespace_;
  std::vector<ServicePort> ports;      // sorted by number
  std::vector<std::string> addresses;  // VIPs (ServiceEntry.spec.addresses: IPs or CIDRs)
  // The VIP weftd allocated for a host without addresses (mesh/vip_allocator.h), "" for none.
  // Set by weftd after BuildRegistry; the translator only reads it.
  std::string allocated_vip;
  Resolution resolution = Resolution::kStatic;
  bool mesh_internal = true;
  std::vector<std::string> export_to;  // empty = everywhere ("*")
  Labels workload_selector;            // empty with no endpoints = no selected workloads
  bool has_workload_selector = false;
  std::vector<Endpoint> endpoints;  // inline endpoints plus selected workloads, sorted
};

// A workload that may back services: a WorkloadEntry or a self-registered proxy.
struct Workload {
  std::string namespace_;
  Endpoint endpoint;
};

struct Registry {
  std::vector<Service> services;  // sorted by (hostname, namespace)
  // Every workload seen, so services can select workloads added later.
  std::vector<Workload> workloads;
  // WorkloadGroups by "<namespace>/<name>": the template (spec.template, with the group's
  // metadata labels merged in) weftd applies to proxies registering under that group.
  std::map<std::string, nlohmann::json> workload_groups;
};

// The single IPs a client may dial for `service` (capture mode: listener addresses, route
// domains, DNS answers): its plain-IP `addresses` (CIDRs are no single address), else its
// allocated VIP; empty when it has neither.
std::vector<std::string> ServiceVips(const Service& service);

// Services and endpoints from the ServiceEntry, WorkloadEntry and WorkloadGroup objects in
// `resources` (other kinds are ignored). Deterministic: the result does not depend on the order
// of `resources`. Resources with missing or malformed fields are skipped (they are validated on
// write by the API server).
Registry BuildRegistry(const std::vector<nlohmann::json>& resources);

// Adds a workload and makes it an endpoint of every service whose workloadSelector (in the
// workload's namespace) matches its labels. Keeps the registry's ordering invariants.
void AddWorkload(Registry& registry, Workload workload);

// An endpoint from a WorkloadEntry-shaped spec (WorkloadEntry.spec, ServiceEntry.spec.endpoints[],
// WorkloadGroup.spec.template); `name` says what declared it.
Endpoint EndpointOf(const nlohmann::json& spec, std::string name);

// Whether `service`'s workloadSelector (in the workload's namespace) picks `workload`.
bool Selects(const Service& service, const Workload& workload);

// "reviews" in "default" -> "reviews.default.svc.cluster.local"; names with a dot and wildcards
// stay as written (Istio's rule: only dot-less names are short names).
std::string ResolveHost(std::string_view host, std::string_view namespace_);

// Istio host matching: "*" matches anything, "*.example.com" matches "a.example.com" and
// "a.b.example.com"; wildcards on both sides match when one covers the other.
bool HostMatches(std::string_view pattern, std::string_view host);

// Whether `selector` is a subset of `labels`.
bool LabelsMatch(const Labels& selector, const Labels& labels);

// ServiceEntry/Istio protocol of a port from its protocol field, else its name prefix
// ("http-foo" -> HTTP), as Istio's protocol selection does.
std::string PortProtocol(const ServicePort& port);
bool IsHttpProtocol(std::string_view protocol);

}  // namespace weft::control::translate
