// Listeners: one outbound listener per service port (HTTP ports through RDS, TCP and TLS ports
// through tcp_proxy filter chains, VirtualService tcp/tls routes applied), and one inbound
// listener per port of the proxy's own workload.
// With capture (ProxyIdentity::capture) the same outbound listeners are Istio's
// "0.0.0.0_<port>" (bind_to_port false: virtualOutbound hands them connections), TCP services
// get one "<VIP>_<port>" listener per VIP instead, and inbound is virtualInbound (capture.cc).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
namespace tcp = envoy::extensions::filters::network::tcp_proxy::v3;

}  // namespace

lst::Listener NewListener(const std::string& address, uint32_t port) {
  lst::Listener l;
  l.set_name(absl::StrCat(address, "_", port));
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address(address);
  sa->set_port_value(port);
  return l;
}

namespace {

// A tcp_proxy to the destinations of a TCP/TLS route (or to `fallback`).
tcp::TcpProxy TcpProxyTo(const json* route_destinations, const Config* vs, uint32_t port,
                         const std::string& fallback, const View& view, const std::string& where) {
  tcp::TcpProxy p;
  std::vector<std::pair<std::string, uint32_t>> targets;
  if (route_destinations != nullptr && vs != nullptr) {
    for (size_t i = 0; i < route_destinations->size(); ++i) {
      const json& rd = (*route_destinations)[i];
      auto dest = ResolveDestination(view, Obj(rd, "destination"), vs->namespace_, port,
                                     absl::StrCat(where, ".route[", i, "]"));
      if (!dest) continue;
      const uint32_t weight =
          rd.contains("weight") && rd["weight"].is_number() ? rd["weight"].get<uint32_t>() : 100;
      if (weight > 0) targets.emplace_back(dest->cluster, weight);
    }
  }
  if (targets.empty()) targets.emplace_back(fallback, 100);
  if (targets.size() == 1) {
    p.set_cluster(targets[0].first);
    p.set_stat_prefix(targets[0].first);
  } else {
    for (const auto& [cluster, weight] : targets) {
      auto* c = p.mutable_weighted_clusters()->add_clusters();
      c->set_name(cluster);
      c->set_weight(weight);
    }
    p.set_stat_prefix(targets[0].first);
  }
  return p;
}

bool L4MatchApplies(const json& m, uint32_t port, const View& view, const std::string& where) {
  if (m.contains("port") && m["port"].is_number() && m["port"].get<uint32_t>() != port) {
    return false;
  }
  if (const json& src = Obj(m, "sourceLabels"); !src.empty()) {
    if (!LabelsMatch(LabelsFromJson(src), view.proxy().labels)) return false;
  }
  if (!Arr(m, "destinationSubnets").empty()) {
    view.Warn(absl::StrCat(where, ".match.destinationSubnets: not supported (ignored)"));
  }
  return true;
}

// The first VirtualService tcp route that applies to this proxy and port.
const json* TcpRouteFor(const Config* vs, uint32_t port, const View& view) {
  if (vs == nullptr) return nullptr;
  const json& routes = Arr(vs->spec, "tcp");
  for (size_t i = 0; i < routes.size(); ++i) {
    const std::string where = absl::StrCat(vs->Id(), ": tcp[", i, "]");
    const json& matches = Arr(routes[i], "match");
    bool applies = matches.empty();
    for (const json& m : matches) applies = applies || L4MatchApplies(m, port, view, where);
    if (applies) return &Arr(routes[i], "route");
  }
  return nullptr;
}

void AddTcpChains(const Service& s, uint32_t port, bool tls, bool shared_port, lst::Listener& l,
                  bool& has_default, const View& view) {
  const std::string fallback = OutboundClusterName(port, "", s.hostname);
  const Config* vs = view.VirtualServiceFor(s);
  if (tls) {
    // TLS routes by SNI; then the service's own host name.
    if (vs != nullptr) {
      const json& routes = Arr(vs->spec, "tls");
      for (size_t i = 0; i < routes.size(); ++i) {
        const std::string where = absl::StrCat(vs->Id(), ": tls[", i, "]");
        for (const json& m : Arr(routes[i], "match")) {
          if (!L4MatchApplies(m, port, view, where)) continue;
          lst::FilterChain chain;
          chain.set_name(absl::StrCat(s.hostname, ":", port, " tls[", i, "]"));
          for (const json& sni : Arr(m, "sniHosts")) {
            if (sni.is_string()) {
              chain.mutable_filter_chain_match()->add_server_names(sni.get<std::string>());
            }
          }
          SetNetworkFilter(chain,
                           TcpProxyTo(&Arr(routes[i], "route"), vs, port, fallback, view, where),
                           "envoy.filters.network.tcp_proxy");
          *l.add_filter_chains() = std::move(chain);
        }
      }
    }
    lst::FilterChain chain;
    chain.set_name(absl::StrCat(s.hostname, ":", port));
    chain.mutable_filter_chain_match()->add_server_names(s.hostname);
    SetNetworkFilter(chain, TcpProxyTo(nullptr, nullptr, port, fallback, view, ""),
                     "envoy.filters.network.tcp_proxy");
    *l.add_filter_chains() = std::move(chain);
    return;
  }
  lst::FilterChain chain;
  chain.set_name(absl::StrCat(s.hostname, ":", port));
  const json* route = TcpRouteFor(vs, port, view);
  SetNetworkFilter(chain,
                   TcpProxyTo(route, vs, port, fallback, view,
                              vs != nullptr ? absl::StrCat(vs->Id(), ": tcp") : ""),
                   "envoy.filters.network.tcp_proxy");
  // Several TCP services on one port are told apart by their VIPs (with traffic capture); a port
  // with one TCP service needs no match (the app dials the listener's own address).
  bool any_vip = false;
  for (const std::string& vip : shared_port ? s.addresses : std::vector<std::string>{}) {
    const size_t slash = vip.find('/');
    auto* range = chain.mutable_filter_chain_match()->add_prefix_ranges();
    range->set_address_prefix(vip.substr(0, slash));
    range->mutable_prefix_len()->set_value(
        slash == std::string::npos ? (vip.find(':') == std::string::npos ? 32 : 128)
                                   : static_cast<uint32_t>(std::stoul(vip.substr(slash + 1))));
    any_vip = true;
  }
  if (!any_vip) {
    if (has_default) {
      view.Warn(absl::StrCat("service ", s.hostname, ":", port,
                             ": another TCP service without addresses already owns this port "
                             "(no listener chain)"));
      return;
    }
    has_default = true;
  }
  *l.add_filter_chains() = std::move(chain);
}

}  // namespace

namespace {

// Istio's stats.PluginConfig, which has no proto in Weft's tree, in a TypedStruct.
google::protobuf::Any IstioStatsTypedConfig() {
  xds::type::v3::TypedStruct stats;
  stats.set_type_url("type.googleapis.com/stats.PluginConfig");
  stats.mutable_value();
  google::protobuf::Any any;
  any.PackFrom(stats);
  return any;
}

}  // namespace

void SetNetworkFilter(lst::FilterChain& chain, const google::protobuf::Message& config,
                      const char* name) {
  if (std::string_view(name) == "envoy.filters.network.tcp_proxy") {
    // Istio's TCP metrics come from istio.stats right before every tcp_proxy (after network
    // RBAC); the listener's traffic_direction makes it report as source or destination.
    auto* stats = chain.add_filters();
    stats->set_name("istio.stats");
    *stats->mutable_typed_config() = IstioStatsTypedConfig();
  }
  auto* f = chain.add_filters();
  f->set_name(name);
  f->mutable_typed_config()->PackFrom(config);
}

void AddTcpServiceChain(const Service& s, uint32_t port, lst::Listener& l, const View& view) {
  bool has_default = false;
  AddTcpChains(s, port, false, false, l, has_default, view);
}

lst::FilterChain EgressChain(const View& view, const std::string& name) {
  lst::FilterChain chain;
  chain.set_name(name);
  const std::string cluster = view.registry_only() ? kBlackHoleCluster : kPassthroughCluster;
  tcp::TcpProxy t;
  t.set_stat_prefix(cluster);
  t.set_cluster(cluster);
  SetNetworkFilter(chain, t, "envoy.filters.network.tcp_proxy");
  return chain;
}

lst::FilterChain InboundChain(const View& view, const ServicePort& p,
                              const std::string& stat_address) {
  lst::FilterChain chain;
  const std::string cluster = InboundClusterName(p.number);
  chain.set_name(cluster);
  if (IsHttpProtocol(PortProtocol(p))) {
    hcm::HttpConnectionManager m;
    m.set_stat_prefix(absl::StrCat("inbound_", stat_address, "_", p.number));
    m.set_codec_type(hcm::HttpConnectionManager::AUTO);
    auto* rc = m.mutable_route_config();
    rc->set_name(cluster);
    auto* vh = rc->add_virtual_hosts();
    vh->set_name(absl::StrCat("inbound|http|", p.number));
    vh->add_domains("*");
    auto* r = vh->add_routes();
    r->set_name("default");
    r->mutable_match()->set_prefix("/");
    r->mutable_route()->set_cluster(cluster);
    r->mutable_route()->mutable_timeout();  // 0s: the caller's proxy enforces timeouts
    // Authentication and authorization run before the router (authn.cc, authz.cc).
    AddInboundHttpSecurityFilters(view, m);
    AddHttpFilters(m, HttpFilters::kRouterOnly);
    SetNetworkFilter(chain, m, "envoy.filters.network.http_connection_manager");
  } else {
    AddInboundMetadataExchange(chain);
    AddInboundNetworkRbac(view, chain);
    tcp::TcpProxy t;
    t.set_stat_prefix(cluster);
    t.set_cluster(cluster);
    SetNetworkFilter(chain, t, "envoy.filters.network.tcp_proxy");
  }
  return chain;
}

void AddHttpFilters(hcm::HttpConnectionManager& m, HttpFilters filters) {
  // Empty at the listener: the routes carry their settings (typed_per_filter_config). Istio's
  // order: fault, then cors (pilot/pkg/networking/core/listener_builder.go,
  // buildHTTPConnectionManager).
  if (filters != HttpFilters::kRouterOnly) {
    auto* f = m.add_http_filters();
    f->set_name("envoy.filters.http.fault");
    f->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::fault::v3::HTTPFault());
  }
  if (filters == HttpFilters::kSidecarOutbound) {
    auto* c = m.add_http_filters();
    c->set_name("envoy.filters.http.cors");
    c->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::cors::v3::Cors());
  }
  if (filters != HttpFilters::kProxylessGrpc) {
    // Istio's standard metrics, just before the router as Istio inserts them; the listener's
    // traffic_direction makes it report as "source" (outbound) or "destination" (inbound).
    // Istio's stats.PluginConfig has no proto in Weft's tree: it travels in a TypedStruct.
    auto* s = m.add_http_filters();
    s->set_name("istio.stats");
    *s->mutable_typed_config() = IstioStatsTypedConfig();
  }
  auto* r = m.add_http_filters();
  r->set_name("envoy.filters.http.router");
  r->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
}

void BuildListeners(const View& view, XdsResources& out) {
  // With capture, the listeners below only receive connections virtualOutbound hands them
  // (bind_to_port false), on 0.0.0.0:<port> or, for TCP services, on their VIP.
  const bool capture = view.proxy().capture;
  const std::string address = capture ? "0.0.0.0" : view.proxy().outbound_address;
  struct PortServices {
    std::vector<const Service*> http, tcp, tls;
  };
  std::map<uint32_t, PortServices> by_port;
  std::set<std::string> vip_listeners;
  for (const Service* s : view.services()) {
    if (s->hostname.find('*') != std::string::npos) continue;
    for (const ServicePort& p : s->ports) {
      const std::string protocol = PortProtocol(p);
      if (IsHttpProtocol(protocol)) {
        by_port[p.number].http.push_back(s);
      } else if (protocol == "TLS" || protocol == "HTTPS") {
        by_port[p.number].tls.push_back(s);
      } else if (capture && !ServiceVips(*s).empty()) {
        // Istio's "<VIP>_<port>": the VIP tells services on one port apart.
        for (const std::string& vip : ServiceVips(*s)) {
          lst::Listener l = NewListener(vip, p.number);
          l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
          if (!vip_listeners.insert(l.name()).second) {
            view.Warn(absl::StrCat("service ", s->hostname, ":", p.number, ": VIP ", vip,
                                   " already belongs to another TCP service on this port "
                                   "(no listener)"));
            continue;
          }
          l.mutable_bind_to_port()->set_value(false);
          AddTcpServiceChain(*s, p.number, l, view);
          out.listeners.push_back(std::move(l));
        }
        by_port[p.number];  // the port still exists (inbound overlap check)
      } else {
        by_port[p.number].tcp.push_back(s);
      }
    }
  }
  for (const auto& [port, services] : by_port) {
    lst::Listener l = NewListener(address, port);
    l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    if (!services.http.empty()) {
      for (const auto* group : {&services.tcp, &services.tls}) {
        for (const Service* s : *group) {
          view.Warn(absl::StrCat("service ", s->hostname, ":", port, ": port ", port,
                                 " is HTTP for other services; weft-proxy does "
                                 "not sniff protocols (no TCP route)"));
        }
      }
      hcm::HttpConnectionManager m;
      m.set_stat_prefix(absl::StrCat("outbound_", address, "_", port));
      m.set_codec_type(hcm::HttpConnectionManager::AUTO);
      auto* rds = m.mutable_rds();
      rds->set_route_config_name(absl::StrCat(port));
      rds->mutable_config_source()->mutable_ads();
      rds->mutable_config_source()->set_resource_api_version(envoy::config::core::v3::V3);
      AddHttpFilters(m, HttpFilters::kSidecarOutbound);
      auto* chain = l.add_filter_chains();
      chain->set_name(absl::StrCat("outbound_http_", port));
      SetNetworkFilter(*chain, m, "envoy.filters.network.http_connection_manager");
    } else {
      bool has_default = false;
      const bool shared = services.tcp.size() > 1;
      for (const Service* s : services.tcp) {
        AddTcpChains(*s, port, false, shared, l, has_default, view);
      }
      if (!services.tls.empty()) {
        for (const Service* s : services.tls) {
          AddTcpChains(*s, port, true, false, l, has_default, view);
        }
        auto* f = l.add_listener_filters();
        f->set_name("envoy.filters.listener.tls_inspector");
        f->mutable_typed_config()->PackFrom(
            envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
      }
      if (capture && l.filter_chains_size() > 0 && !has_default) {
        // A captured connection to this port that no SNI chain claims is egress traffic.
        *l.add_filter_chains() = EgressChain(view, "PassthroughFilterChain");
      }
      if (l.filter_chains_size() == 0) continue;
    }
    if (capture) l.mutable_bind_to_port()->set_value(false);
    out.listeners.push_back(std::move(l));
  }

  if (capture) return;  // inbound is virtualInbound's (capture.cc)
  // Inbound: the proxy's own ports, to the application on 127.0.0.1.
  const std::string inbound_address = view.proxy().ip.empty() ? "0.0.0.0" : view.proxy().ip;
  for (const ServicePort& p : view.proxy().ports) {
    // Without traffic capture both sides bind real sockets: an inbound port that is also an
    // outbound port on an overlapping address cannot be bound twice.
    if ((inbound_address == "0.0.0.0" || inbound_address == address) && by_port.count(p.number)) {
      view.Warn(absl::StrCat("inbound port ", p.number, " on ", inbound_address,
                             " overlaps the outbound listener ", address, "_", p.number,
                             ": give the proxy its own IP or a different outbound_address"));
    }
    lst::Listener l = NewListener(inbound_address, p.number);
    l.set_traffic_direction(envoy::config::core::v3::INBOUND);  // istio.stats reports by it
    // PeerAuthentication: an mTLS chain and/or the plaintext one (security.cc).
    AddInboundChains(view, p, InboundChain(view, p, inbound_address), l);
    out.listeners.push_back(std::move(l));
  }
}

}  // namespace weft::control::translate::internal
