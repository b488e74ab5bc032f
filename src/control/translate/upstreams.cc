// WEFT_UPSTREAMS: a proxy without capture cannot see where its application meant to go, so the
// application dials a local address per upstream ("reviews:9080=127.0.0.1:19080": it calls
// http://127.0.0.1:19080/ for reviews) and the listener there sends everything to that service
// port. HTTP ports run an HCM whose only virtual host is the service's (its VirtualService rules
// apply) with domains ["*"], since the Host header names the local address; TCP ports run the
// service's tcp_proxy chain. See docs/user-guide/registration.md.
#include <set>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"

namespace weft::control::translate::internal {
namespace {

namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

const ServicePort* FindPort(const Service& s, uint32_t number) {
  for (const ServicePort& p : s.ports) {
    if (p.number == number) return &p;
  }
  return nullptr;
}

}  // namespace

void BuildUpstreamListeners(const View& view, XdsResources& out) {
  std::set<std::string> taken;
  for (const auto& l : out.listeners) taken.insert(l.name());
  const std::vector<UpstreamBinding>& upstreams = view.proxy().upstreams;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    const UpstreamBinding& u = upstreams[i];
    const std::string where = absl::StrCat("metadata.WEFT_UPSTREAMS[", i, "] (", u.host, ":",
                                           u.port, "=", u.bind_address, ":", u.bind_port, ")");
    const Service* s = view.FindService(ResolveHost(u.host, view.proxy().namespace_));
    if (s == nullptr) {
      view.Warn(absl::StrCat(where, ": not a service this proxy can see (no listener)"));
      continue;
    }
    const ServicePort* port = FindPort(*s, u.port);
    if (port == nullptr) {
      view.Warn(absl::StrCat(where, ": ", s->hostname, " has no port ", u.port, " (no listener)"));
      continue;
    }
    lst::Listener l = NewListener(u.bind_address, u.bind_port);
    l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
    if (!taken.insert(l.name()).second) {
      view.Warn(absl::StrCat(where, ": ", l.name(),
                             " is already an outbound listener of this proxy (no listener)"));
      continue;
    }
    const std::string protocol = PortProtocol(*port);
    if (IsHttpProtocol(protocol)) {
      hcm::HttpConnectionManager m;
      m.set_stat_prefix(absl::StrCat("outbound_", l.name()));
      m.set_codec_type(hcm::HttpConnectionManager::AUTO);
      auto* rc = m.mutable_route_config();
      rc->set_name(l.name());
      std::set<std::string> used_domains;
      envoy::config::route::v3::VirtualHost vh = BuildVirtualHost(*s, u.port, view, used_domains);
      vh.clear_domains();
      vh.add_domains("*");
      *rc->add_virtual_hosts() = std::move(vh);
      AddHttpFilters(m, HttpFilters::kSidecarOutbound);
      auto* chain = l.add_filter_chains();
      chain->set_name(absl::StrCat("outbound_http_", l.name()));
      SetNetworkFilter(*chain, m, "envoy.filters.network.http_connection_manager");
    } else {
      if (protocol == "TLS" || protocol == "HTTPS") {
        view.Warn(absl::StrCat(where, ": a ", protocol,
                               " port: proxied as TCP to the service (no SNI routing)"));
      }
      AddTcpServiceChain(*s, u.port, l, view);
    }
    out.listeners.push_back(std::move(l));
  }
}

}  // namespace weft::control::translate::internal
