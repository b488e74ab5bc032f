// DestinationRule + registry -> Clusters and ClusterLoadAssignments: Istio's cluster naming,
// subsets, trafficPolicy (loadBalancer, connectionPool, outlierDetection, portLevelSettings,
// subset overrides) and locality-aware endpoints.
#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/translate/internal.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace cluster_pb = envoy::config::cluster::v3;
namespace endpoint_pb = envoy::config::endpoint::v3;
namespace uphttp = envoy::extensions::upstreams::http::v3;

constexpr char kHttpProtocolOptions[] = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// Istio's trafficPolicy merge: a port-level setting or a subset's policy replaces each of
// loadBalancer / connectionPool / outlierDetection / tls it sets.
void Overlay(json& base, const json& over) {
  for (const char* field : {"loadBalancer", "connectionPool", "outlierDetection", "tls"}) {
    if (over.contains(field)) base[field] = over[field];
  }
}

void OverlayPort(json& policy, const json& source, uint32_t port) {
  for (const json& p : Arr(source, "portLevelSettings")) {
    const json& sel = Obj(p, "port");
    if (sel.contains("number") && sel["number"].is_number() &&
        sel["number"].get<uint32_t>() == port) {
      Overlay(policy, p);
    }
  }
}

const json* FindSubset(const json& dr_spec, std::string_view subset) {
  for (const json& s : Arr(dr_spec, "subsets")) {
    if (Str(s, "name") == subset) return &s;
  }
  return nullptr;
}

bool IsHttp2(std::string_view protocol) {
  return protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-WEB";
}

void SetDuration(const json& j, const std::string& key, google::protobuf::Duration* out,
                 const View& view, const std::string& where) {
  if (!j.contains(std::string(key))) return;
  if (auto d = ParseDuration(j[std::string(key)]); d) {
    *out = *d;
  } else {
    view.Warn(absl::StrCat(where, ".", key, ": not a duration (skipped)"));
  }
}

void ApplyLoadBalancer(const json& lb, cluster_pb::Cluster& c, const View& view,
                       const std::string& where) {
  if (lb.empty()) return;
  const std::string simple = Str(lb, "simple");
  if (simple == "ROUND_ROBIN") c.set_lb_policy(cluster_pb::Cluster::ROUND_ROBIN);
  if (simple == "LEAST_REQUEST" || simple == "LEAST_CONN") {
    c.set_lb_policy(cluster_pb::Cluster::LEAST_REQUEST);
  }
  if (simple == "RANDOM") c.set_lb_policy(cluster_pb::Cluster::RANDOM);
  if (simple == "PASSTHROUGH") {
    // Istio: connect to the address the caller asked for.
    c.set_type(cluster_pb::Cluster::ORIGINAL_DST);
    c.set_lb_policy(cluster_pb::Cluster::CLUSTER_PROVIDED);
    c.clear_eds_cluster_config();
    c.clear_load_assignment();
  }
  if (const json& hash = Obj(lb, "consistentHash"); !hash.empty()) {
    if (hash.contains("maglev")) {
      c.set_lb_policy(cluster_pb::Cluster::MAGLEV);
      if (uint32_t size = U32(Obj(hash, "maglev"), "tableSize"); size != 0) {
        c.mutable_maglev_lb_config()->mutable_table_size()->set_value(size);
      }
    } else {
      c.set_lb_policy(cluster_pb::Cluster::RING_HASH);
      // Istio's default minimum ring size.
      uint32_t min_ring = U32(hash, "minimumRingSize", 1024);
      if (const json& ring = Obj(hash, "ringHash"); ring.contains("minimumRingSize")) {
        min_ring = U32(ring, "minimumRingSize", min_ring);
      }
      c.mutable_ring_hash_lb_config()->mutable_minimum_ring_size()->set_value(min_ring);
    }
  }
  if (lb.contains("warmupDurationSecs") || lb.contains("warmup")) {
    view.Warn(absl::StrCat(where, ".loadBalancer.warmup: not supported by weft-proxy (skipped)"));
  }
}

void ApplyConnectionPool(const json& pool, cluster_pb::Cluster& c,
                         uphttp::HttpProtocolOptions& http_options, const View& view,
                         const std::string& where) {
  auto* t = c.mutable_circuit_breakers()->mutable_thresholds(0);
  const json& tcp = Obj(pool, "tcp");
  if (tcp.contains("maxConnections"))
    t->mutable_max_connections()->set_value(U32(tcp, "maxConnections"));
  SetDuration(tcp, "connectTimeout", c.mutable_connect_timeout(), view,
              absl::StrCat(where, ".connectionPool.tcp"));
  for (const char* unsupported : {"tcpKeepalive", "maxConnectionDuration", "idleTimeout"}) {
    if (tcp.contains(unsupported)) {
      view.Warn(absl::StrCat(where, ".connectionPool.tcp.", unsupported,
                             ": not supported by weft-proxy (skipped)"));
    }
  }
  const json& http = Obj(pool, "http");
  if (http.contains("http1MaxPendingRequests")) {
    t->mutable_max_pending_requests()->set_value(U32(http, "http1MaxPendingRequests"));
  }
  if (http.contains("http2MaxRequests")) {
    t->mutable_max_requests()->set_value(U32(http, "http2MaxRequests"));
  }
  if (http.contains("maxRetries")) t->mutable_max_retries()->set_value(U32(http, "maxRetries"));
  if (http.contains("maxRequestsPerConnection")) {
    http_options.mutable_common_http_protocol_options()
        ->mutable_max_requests_per_connection()
        ->set_value(U32(http, "maxRequestsPerConnection"));
  }
  if (http.contains("idleTimeout")) {
    SetDuration(http, "idleTimeout",
                http_options.mutable_common_http_protocol_options()->mutable_idle_timeout(), view,
                absl::StrCat(where, ".connectionPool.http"));
  }
  if (http.contains("useClientProtocol") && http["useClientProtocol"] == true) {
    auto* d = http_options.mutable_use_downstream_protocol_config();
    d->mutable_http_protocol_options();
    d->mutable_http2_protocol_options();
  }
  for (const char* unsupported : {"h2UpgradePolicy", "maxConcurrentStreams"}) {
    if (http.contains(unsupported)) {
      view.Warn(absl::StrCat(where, ".connectionPool.http.", unsupported,
                             ": not supported by weft-proxy (skipped)"));
    }
  }
}

void ApplyOutlierDetection(const json& od, cluster_pb::Cluster& c, const View& view,
                           const std::string& where) {
  if (od.empty()) return;
  auto* o = c.mutable_outlier_detection();
  if (od.contains("consecutive5xxErrors")) {
    const uint32_t n = U32(od, "consecutive5xxErrors");
    o->mutable_consecutive_5xx()->set_value(n);
    // Istio: 0 turns the check off.
    o->mutable_enforcing_consecutive_5xx()->set_value(n > 0 ? 100 : 0);
  }
  if (od.contains("consecutiveGatewayErrors")) {
    const uint32_t n = U32(od, "consecutiveGatewayErrors");
    o->mutable_consecutive_gateway_failure()->set_value(n);
    o->mutable_enforcing_consecutive_gateway_failure()->set_value(n > 0 ? 100 : 0);
  }
  const std::string w = absl::StrCat(where, ".outlierDetection");
  SetDuration(od, "interval", o->mutable_interval(), view, w);
  SetDuration(od, "baseEjectionTime", o->mutable_base_ejection_time(), view, w);
  if (od.contains("maxEjectionPercent")) {
    o->mutable_max_ejection_percent()->set_value(U32(od, "maxEjectionPercent"));
  }
  if (od.contains("splitExternalLocalOriginErrors")) {
    o->set_split_external_local_origin_errors(od["splitExternalLocalOriginErrors"] == true);
  }
  if (od.contains("consecutiveLocalOriginFailures")) {
    o->mutable_consecutive_local_origin_failure()->set_value(
        U32(od, "consecutiveLocalOriginFailures"));
  }
  // Istio turns Envoy's success-rate ejection off: only the consecutive checks apply.
  o->mutable_enforcing_success_rate()->set_value(0);
  if (od.contains("minHealthPercent")) {
    c.mutable_common_lb_config()->mutable_healthy_panic_threshold()->set_value(
        U32(od, "minHealthPercent"));
  }
}

// "region/zone/subzone" -> parts.
std::array<std::string, 3> LocalityParts(std::string_view locality) {
  std::array<std::string, 3> out;
  std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(locality.data(), locality.size()), '/');
  for (size_t i = 0; i < parts.size() && i < 3; ++i) out[i] = parts[i];
  return out;
}

// Istio's locality patterns: "region/zone/subzone" with "*" for the rest.
bool LocalityMatches(std::string_view pattern, const std::array<std::string, 3>& locality) {
  const auto p = LocalityParts(pattern);
  for (int i = 0; i < 3; ++i) {
    if (p[i] == "*" || p[i].empty()) return true;
    if (p[i] != locality[i]) return false;
  }
  return true;
}

struct LocalityPolicy {
  bool failover = false;              // priorities by proximity to the proxy
  const json* distribute = nullptr;   // the matching `distribute` entry's `to`
  const json* failover_to = nullptr;  // localityLbSetting.failover
};

// Istio enables locality failover when outlier detection is configured and localityLbSetting is
// not disabled; `distribute` weights localities for proxies in a matching `from`.
LocalityPolicy LocalityPolicyFor(const json& policy, const View& view) {
  LocalityPolicy out;
  const json& setting = Obj(Obj(policy, "loadBalancer"), "localityLbSetting");
  if (setting.contains("enabled") && setting["enabled"] == false) return out;
  if (view.proxy().locality.empty()) return out;
  const auto proxy = LocalityParts(view.proxy().locality);
  for (const json& d : Arr(setting, "distribute")) {
    if (LocalityMatches(Str(d, "from"), proxy)) {
      out.distribute = &Obj(d, "to");
      return out;
    }
  }
  out.failover = !Obj(policy, "outlierDetection").empty();
  if (!Arr(setting, "failover").empty()) out.failover_to = &Arr(setting, "failover");
  if (!Arr(setting, "failoverPriority").empty()) {
    view.Warn("localityLbSetting.failoverPriority: not supported yet (skipped)");
  }
  return out;
}

uint32_t FailoverPriority(const std::array<std::string, 3>& proxy,
                          const std::array<std::string, 3>& endpoint, const json* failover_to) {
  if (proxy[0] == endpoint[0]) {
    if (proxy[1] == endpoint[1]) return proxy[2] == endpoint[2] ? 0 : 1;
    return 2;
  }
  // localityLbSetting.failover: from the proxy's region, this region comes next.
  if (failover_to != nullptr) {
    for (const json& f : *failover_to) {
      if (Str(f, "from") == proxy[0] && Str(f, "to") == endpoint[0]) return 3;
    }
    return 4;
  }
  return 3;
}

endpoint_pb::ClusterLoadAssignment BuildLoadAssignment(const std::string& cluster_name,
                                                       const Service& service,
                                                       const ServicePort& port,
                                                       const Labels& subset_labels) {
  endpoint_pb::ClusterLoadAssignment cla;
  cla.set_cluster_name(cluster_name);
  // Deterministic grouping: locality string -> endpoints (already sorted in the registry).
  std::map<std::string, std::vector<const Endpoint*>> by_locality;
  for (const Endpoint& e : service.endpoints) {
    if (!LabelsMatch(subset_labels, e.labels)) continue;
    by_locality[e.locality].push_back(&e);
  }
  for (const auto& [name, endpoints] : by_locality) {
    auto* l = cla.add_endpoints();
    const auto parts = LocalityParts(name);
    if (!parts[0].empty()) l->mutable_locality()->set_region(parts[0]);
    if (!parts[1].empty()) l->mutable_locality()->set_zone(parts[1]);
    if (!parts[2].empty()) l->mutable_locality()->set_sub_zone(parts[2]);
    for (const Endpoint* e : endpoints) {
      auto* lb = l->add_lb_endpoints();
      auto* sa = lb->mutable_endpoint()->mutable_address()->mutable_socket_address();
      sa->set_address(e->address);
      uint32_t p = port.target_port != 0 ? port.target_port : port.number;
      if (const auto it = e->ports.find(port.name); it != e->ports.end()) p = it->second;
      sa->set_port_value(p);
      if (e->weight != 0) lb->mutable_load_balancing_weight()->set_value(e->weight);
      SetEndpointTlsMetadata(*e, *lb);
    }
  }
  return cla;
}

void ApplyLocality(const LocalityPolicy& policy, std::string_view proxy_locality,
                   endpoint_pb::ClusterLoadAssignment& cla, cluster_pb::Cluster& c) {
  const auto proxy = LocalityParts(proxy_locality);
  for (auto& l : *cla.mutable_endpoints()) {
    const std::array<std::string, 3> parts = {l.locality().region(), l.locality().zone(),
                                              l.locality().sub_zone()};
    if (policy.distribute != nullptr) {
      uint32_t weight = 0;
      for (const auto& [pattern, w] : policy.distribute->items()) {
        if (w.is_number() && LocalityMatches(pattern, parts)) weight = w.get<uint32_t>();
      }
      // A locality the distribution leaves out gets no traffic: Envoy wants a weight >= 1, so
      // its endpoints are dropped instead.
      if (weight == 0) {
        l.clear_lb_endpoints();
      } else {
        l.mutable_load_balancing_weight()->set_value(weight);
      }
    } else if (policy.failover) {
      l.set_priority(FailoverPriority(proxy, parts, policy.failover_to));
    }
  }
  if (policy.failover) {
    // Envoy's priorities are contiguous from 0: renumber the levels in use, keeping their order.
    std::set<uint32_t> used;
    for (const auto& l : cla.endpoints()) used.insert(l.priority());
    for (auto& l : *cla.mutable_endpoints()) {
      l.set_priority(static_cast<uint32_t>(std::distance(used.begin(), used.find(l.priority()))));
    }
  }
  if (policy.distribute != nullptr) {
    auto* eps = cla.mutable_endpoints();
    eps->erase(std::remove_if(eps->begin(), eps->end(),
                              [](const endpoint_pb::LocalityLbEndpoints& l) {
                                return l.lb_endpoints_size() == 0;
                              }),
               eps->end());
    if (c.lb_policy() != cluster_pb::Cluster::RING_HASH &&
        c.lb_policy() != cluster_pb::Cluster::MAGLEV) {
      c.mutable_common_lb_config()->mutable_locality_weighted_lb_config();
    }
  }
}

// The policy for `port` and `subset` of the rule (an empty json when there is no rule).
json EffectivePolicy(const Config* dr, uint32_t port, std::string_view subset) {
  json policy = json::object();
  if (dr == nullptr) return policy;
  const json& top = Obj(dr->spec, "trafficPolicy");
  Overlay(policy, top);
  OverlayPort(policy, top, port);
  if (!subset.empty()) {
    if (const json* s = FindSubset(dr->spec, subset); s != nullptr) {
      const json& sp = Obj(*s, "trafficPolicy");
      Overlay(policy, sp);
      OverlayPort(policy, sp, port);
    }
  }
  return policy;
}

cluster_pb::Cluster BaseCluster(const std::string& name, const Service& service,
                                const ServicePort& port) {
  cluster_pb::Cluster c;
  c.set_name(name);
  // Istio's mesh-wide defaults: connectTimeout 10s; LEAST_REQUEST balancing (Istio >= 1.14);
  // circuit breakers effectively off (every threshold 2^32-1) until a DestinationRule sets them.
  c.mutable_connect_timeout()->set_seconds(10);
  c.set_lb_policy(cluster_pb::Cluster::LEAST_REQUEST);
  auto* t = c.mutable_circuit_breakers()->add_thresholds();
  const uint32_t kMax = std::numeric_limits<uint32_t>::max();
  t->mutable_max_connections()->set_value(kMax);
  t->mutable_max_pending_requests()->set_value(kMax);
  t->mutable_max_requests()->set_value(kMax);
  t->mutable_max_retries()->set_value(kMax);
  switch (service.resolution) {
    case Resolution::kStatic: {
      c.set_type(cluster_pb::Cluster::EDS);
      auto* eds = c.mutable_eds_cluster_config();
      eds->mutable_eds_config()->mutable_ads();
      eds->mutable_eds_config()->set_resource_api_version(envoy::config::core::v3::V3);
      eds->set_service_name(name);
      break;
    }
    case Resolution::kDns:
    case Resolution::kDnsRoundRobin: {
      c.set_type(service.resolution == Resolution::kDns ? cluster_pb::Cluster::STRICT_DNS
                                                        : cluster_pb::Cluster::LOGICAL_DNS);
      c.set_dns_lookup_family(cluster_pb::Cluster::V4_ONLY);
      auto* la = c.mutable_load_assignment();
      la->set_cluster_name(name);
      auto* l = la->add_endpoints();
      // Istio resolves each endpoint's address, or the host itself when there are none.
      std::vector<std::pair<std::string, uint32_t>> targets;
      const uint32_t default_port = port.target_port != 0 ? port.target_port : port.number;
      for (const Endpoint& e : service.endpoints) {
        const auto it = e.ports.find(port.name);
        targets.emplace_back(e.address, it != e.ports.end() ? it->second : default_port);
      }
      if (targets.empty()) targets.emplace_back(service.hostname, default_port);
      if (service.resolution == Resolution::kDnsRoundRobin) targets.resize(1);
      for (const auto& [address, p] : targets) {
        auto* sa =
            l->add_lb_endpoints()->mutable_endpoint()->mutable_address()->mutable_socket_address();
        sa->set_address(address);
        sa->set_port_value(p);
      }
      break;
    }
    case Resolution::kNone:
      c.set_type(cluster_pb::Cluster::ORIGINAL_DST);
      c.set_lb_policy(cluster_pb::Cluster::CLUSTER_PROVIDED);
      break;
  }
  return c;
}

void AddCluster(const View& view, const Service& service, const ServicePort& port, const Config* dr,
                std::string_view subset, const Labels& subset_labels, XdsResources& out) {
  const std::string name = OutboundClusterName(port.number, subset, service.hostname);
  const std::string where = dr != nullptr ? dr->Id() : std::string("(defaults)");
  cluster_pb::Cluster c = BaseCluster(name, service, port);
  const json policy = EffectivePolicy(dr, port.number, subset);
  uphttp::HttpProtocolOptions http_options;
  ApplyLoadBalancer(Obj(policy, "loadBalancer"), c, view, where);
  ApplyConnectionPool(Obj(policy, "connectionPool"), c, http_options, view, where);
  ApplyOutlierDetection(Obj(policy, "outlierDetection"), c, view, where);
  ApplyUpstreamTls(view, service, port, subset, policy, where, c);
  AddClusterMetadataExchange(port, c);
  const std::string protocol = PortProtocol(port);
  if (IsHttpProtocol(protocol)) {
    if (!http_options.has_use_downstream_protocol_config()) {
      auto* e = http_options.mutable_explicit_http_config();
      if (IsHttp2(protocol)) {
        e->mutable_http2_protocol_options();
      } else {
        e->mutable_http_protocol_options();
      }
    }
    (*c.mutable_typed_extension_protocol_options())[kHttpProtocolOptions].PackFrom(http_options);
  }
  if (c.type() == cluster_pb::Cluster::EDS) {
    const LocalityPolicy locality = LocalityPolicyFor(policy, view);
    endpoint_pb::ClusterLoadAssignment cla =
        BuildLoadAssignment(name, service, port, subset_labels);
    if (locality.failover || locality.distribute != nullptr) {
      ApplyLocality(locality, view.proxy().locality, cla, c);
    }
    out.endpoints.push_back(std::move(cla));
  }
  out.clusters.push_back(std::move(c));
}

}  // namespace

void BuildOutboundClusters(const View& view, XdsResources& out) {
  for (const Service* service : view.services()) {
    if (service->hostname.find('*') != std::string::npos &&
        service->resolution != Resolution::kNone) {
      view.Warn(absl::StrCat("ServiceEntry host '", service->hostname,
                             "': a wildcard host needs resolution NONE (no cluster)"));
      continue;
    }
    const Config* dr = view.DestinationRuleFor(*service);
    for (const ServicePort& port : service->ports) {
      AddCluster(view, *service, port, dr, "", {}, out);
      if (dr == nullptr) continue;
      for (const json& subset : Arr(dr->spec, "subsets")) {
        AddCluster(view, *service, port, dr, Str(subset, "name"),
                   LabelsFromJson(Obj(subset, "labels")), out);
      }
    }
  }
  // Istio's two catch-all clusters: nowhere, and wherever the caller was going.
  cluster_pb::Cluster blackhole;
  blackhole.set_name(kBlackHoleCluster);
  blackhole.set_type(cluster_pb::Cluster::STATIC);
  blackhole.mutable_connect_timeout()->set_seconds(10);
  out.clusters.push_back(std::move(blackhole));
  cluster_pb::Cluster passthrough;
  passthrough.set_name(kPassthroughCluster);
  passthrough.set_type(cluster_pb::Cluster::ORIGINAL_DST);
  passthrough.set_lb_policy(cluster_pb::Cluster::CLUSTER_PROVIDED);
  passthrough.mutable_connect_timeout()->set_seconds(10);
  out.clusters.push_back(std::move(passthrough));
}

void BuildInboundClusters(const View& view, XdsResources& out) {
  if (view.proxy().capture) {
    // virtualInbound's catch-all: the connection's original destination (Istio's
    // InboundPassthroughCluster).
    cluster_pb::Cluster c;
    c.set_name(kInboundPassthroughCluster);
    c.set_type(cluster_pb::Cluster::ORIGINAL_DST);
    c.set_lb_policy(cluster_pb::Cluster::CLUSTER_PROVIDED);
    c.mutable_connect_timeout()->set_seconds(10);
    out.clusters.push_back(std::move(c));
  }
  for (const ServicePort& port : view.proxy().ports) {
    cluster_pb::Cluster c;
    c.set_name(InboundClusterName(port.number));
    c.set_type(cluster_pb::Cluster::STATIC);
    c.mutable_connect_timeout()->set_seconds(10);
    auto* la = c.mutable_load_assignment();
    la->set_cluster_name(c.name());
    auto* sa = la->add_endpoints()
                   ->add_lb_endpoints()
                   ->mutable_endpoint()
                   ->mutable_address()
                   ->mutable_socket_address();
    sa->set_address("127.0.0.1");
    sa->set_port_value(port.target_port != 0 ? port.target_port : port.number);
    out.clusters.push_back(std::move(c));
  }
}

void AddHashPolicy(const View& view, const Destination& destination,
                   envoy::config::route::v3::RouteAction& action) {
  if (destination.service == nullptr) return;
  const Config* dr = view.DestinationRuleFor(*destination.service);
  const json policy = EffectivePolicy(dr, destination.port, destination.subset);
  const json& hash = Obj(Obj(policy, "loadBalancer"), "consistentHash");
  if (hash.empty()) return;
  auto* h = action.add_hash_policy();
  if (const std::string header = Str(hash, "httpHeaderName"); !header.empty()) {
    h->mutable_header()->set_header_name(header);
  } else if (const json& cookie = Obj(hash, "httpCookie"); !cookie.empty()) {
    h->mutable_cookie()->set_name(Str(cookie, "name"));
    if (const std::string path = Str(cookie, "path"); !path.empty()) {
      h->mutable_cookie()->set_path(path);
    }
    if (auto ttl = ParseDuration(cookie.value("ttl", json())); ttl) {
      *h->mutable_cookie()->mutable_ttl() = *ttl;
    }
  } else if (hash.value("useSourceIp", false)) {
    h->mutable_connection_properties()->set_source_ip(true);
  } else if (const std::string q = Str(hash, "httpQueryParameterName"); !q.empty()) {
    h->mutable_query_parameter()->set_name(q);
  } else {
    action.mutable_hash_policy()->RemoveLast();
  }
}

}  // namespace weft::control::translate::internal
