// Istio's capture layout for a sidecar whose traffic iptables redirects (node metadata
// INTERCEPTION_MODE: REDIRECT; docs/user-guide/traffic-capture.md):
// - "virtualOutbound" on 0.0.0.0:15001 with use_original_dst: the proxy hands each redirected
//   connection to the listener of its original destination (listeners.cc: "<VIP>_<port>", else
//   "0.0.0.0_<port>", both bind_to_port false); what no listener claims takes this listener's
//   catch-all chain, tcp_proxy to PassthroughCluster (ALLOW_ANY) or BlackHoleCluster
//   (REGISTRY_ONLY). A connection whose original destination is 15001 itself is black-holed, so
//   a client dialling the capture port directly cannot loop through it.
// - "virtualInbound" on 0.0.0.0:15006 with the original_dst listener filter (no hand-off): one
//   chain per port of the workload (filter_chain_match.destination_port), then a catch-all to
//   InboundPassthroughCluster.
// - "dns" on 127.0.0.1:15053/UDP: Envoy's dns_filter answering the mesh's names with VIPs.
// Names and shapes follow Istio's generated config: listener and chain names from istio
// pilot/pkg/model/listener.go (VirtualOutboundListenerName "virtualOutbound",
// VirtualOutboundCatchAllTCPFilterChainName "virtualOutbound-catchall-tcp",
// VirtualOutboundBlackholeFilterChainName "virtualOutbound-blackhole", VirtualInboundListenerName
// "virtualInbound", VirtualInboundBlackholeFilterChainName "virtualInbound-blackhole",
// dnsListenerName "dns"); the catch-all and black-hole chains from
// pilot/pkg/networking/core/listener.go (buildOutboundCatchAllNetworkFilterChains,
// blackholeFilterChain, buildOutboundCatchAllNetworkFiltersOnly).
#include <map>

#include "control/translate/internal.h"
#include "envoy/config/listener/v3/udp_listener_config.pb.h"
#include "envoy/data/dns/v3/dns_table.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace lst = envoy::config::listener::v3;
namespace dns = envoy::extensions::filters::udp::dns_filter::v3;

// The contract's ports (issue 5, section 1), Istio's: 15001 outbound capture, 15006 inbound
// capture, 15053 DNS capture.
constexpr uint32_t kOutboundCapturePort = 15001;
constexpr uint32_t kInboundCapturePort = 15006;
constexpr uint32_t kDnsPort = 15053;
// Istio's DNS proxy answers with a 30 s TTL (istio pkg/dns/server/name_table.go), which is also
// the least Envoy's DnsVirtualDomain.answer_ttl accepts (dns_table.proto: gte 30s).
constexpr int64_t kDnsAnswerTtlSeconds = 30;

// Both capture listeners learn the destination iptables rewrote. Only virtualOutbound hands the
// connection on to the listener of that destination (use_original_dst); virtualInbound matches
// it against its own chains with the original_dst listener filter alone, as Istio's does
// (pilot/pkg/networking/core/listener_builder.go: the inbound listener carries
// envoy.filters.listener.original_dst, not use_original_dst), or an inbound request would be
// handed to the workload's own outbound 0.0.0.0_<port> listener and routed a second time.
enum class Handoff { kToOriginalDestination, kNone };

lst::Listener CaptureListener(const char* name, const char* address, uint32_t port,
                              Handoff handoff) {
  lst::Listener l;
  l.set_name(name);
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address(address);
  sa->set_port_value(port);
  if (handoff == Handoff::kToOriginalDestination) {
    l.mutable_use_original_dst()->set_value(true);
  } else {
    lst::ListenerFilter* f = l.add_listener_filters();
    f->set_name("envoy.filters.listener.original_dst");
    f->mutable_typed_config()->PackFrom(
        envoy::extensions::filters::listener::original_dst::v3::OriginalDst());
  }
  return l;
}

// Connections whose original destination is the capture port itself go nowhere.
lst::FilterChain BlackholeChain(const char* name, uint32_t port) {
  lst::FilterChain chain;
  chain.set_name(name);
  chain.mutable_filter_chain_match()->mutable_destination_port()->set_value(port);
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  t.set_stat_prefix(kBlackHoleCluster);
  t.set_cluster(kBlackHoleCluster);
  SetNetworkFilter(chain, t, "envoy.filters.network.tcp_proxy");
  return chain;
}

lst::Listener VirtualOutbound(const View& view) {
  lst::Listener l = CaptureListener("virtualOutbound", "0.0.0.0", kOutboundCapturePort,
                                    Handoff::kToOriginalDestination);
  l.set_traffic_direction(envoy::config::core::v3::OUTBOUND);
  *l.add_filter_chains() = BlackholeChain("virtualOutbound-blackhole", kOutboundCapturePort);
  *l.add_filter_chains() = EgressChain(view, "virtualOutbound-catchall-tcp");
  return l;
}

lst::Listener VirtualInbound(const View& view) {
  lst::Listener l =
      CaptureListener("virtualInbound", "0.0.0.0", kInboundCapturePort, Handoff::kNone);
  l.set_traffic_direction(envoy::config::core::v3::INBOUND);
  *l.add_filter_chains() = BlackholeChain("virtualInbound-blackhole", kInboundCapturePort);
  for (const ServicePort& p : view.proxy().ports) {
    lst::FilterChain chain = InboundChain(view, p, "0.0.0.0");
    chain.mutable_filter_chain_match()->mutable_destination_port()->set_value(p.number);
    // PeerAuthentication splits the port into an mTLS and a plaintext chain (security.cc).
    AddInboundChains(view, p, std::move(chain), l);
  }
  // Ports no service declares: to the original destination, as Istio's inbound passthrough.
  lst::FilterChain passthrough;
  passthrough.set_name("virtualInbound-catchall-tcp");
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy t;
  t.set_stat_prefix(kInboundPassthroughCluster);
  t.set_cluster(kInboundPassthroughCluster);
  SetNetworkFilter(passthrough, t, "envoy.filters.network.tcp_proxy");
  *l.add_filter_chains() = std::move(passthrough);
  return l;
}

// The names this proxy may resolve and their VIPs: every visible service with a VIP, under the
// names a client in the proxy's namespace uses (ServiceHostNames: the FQDN and, for
// cluster-local services, "reviews" (same namespace), "reviews.default", "reviews.default.svc").
// A name two services claim goes to the first in view order (the proxy's own namespace first).
std::map<std::string, std::vector<std::string>> DnsNames(const View& view) {
  std::map<std::string, std::vector<std::string>> names;
  for (const Service* s : view.services()) {
    if (s->hostname.find('*') != std::string::npos) continue;  // no single name to answer
    const std::vector<std::string> vips = ServiceVips(*s);
    if (vips.empty()) continue;  // resolution NONE without addresses: real DNS answers
    for (const std::string& name : ServiceHostNames(*s, view)) names.emplace(name, vips);
  }
  return names;
}

lst::Listener DnsListener(const View& view) {
  lst::Listener l;
  l.set_name("dns");
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_protocol(envoy::config::core::v3::SocketAddress::UDP);
  sa->set_address("127.0.0.1");
  sa->set_port_value(kDnsPort);
  l.mutable_udp_listener_config();
  dns::DnsFilterConfig config;
  config.set_stat_prefix("dns");
  // No client_config: weft-proxy forwards names outside the table to the nameservers of its
  // /etc/resolv.conf (the contract's section 3).
  auto* table = config.mutable_server_config()->mutable_inline_dns_table();
  for (const auto& [name, vips] : DnsNames(view)) {
    auto* domain = table->add_virtual_domains();
    domain->set_name(name);
    for (const std::string& vip : vips) {
      domain->mutable_endpoint()->mutable_address_list()->add_address(vip);
    }
    domain->mutable_answer_ttl()->set_seconds(kDnsAnswerTtlSeconds);
  }
  // Names under cluster.local the table lacks are NXDOMAIN, not forwarded: no upstream
  // nameserver knows the mesh's names.
  table->add_known_suffixes()->set_suffix("cluster.local");
  auto* filter = l.add_listener_filters();
  filter->set_name("envoy.filters.udp.dns_filter");
  filter->mutable_typed_config()->PackFrom(config);
  return l;
}

}  // namespace

void BuildCaptureListeners(const View& view, XdsResources& out) {
  out.listeners.push_back(VirtualOutbound(view));
  out.listeners.push_back(VirtualInbound(view));
  out.listeners.push_back(DnsListener(view));
}

}  // namespace weft::control::translate::internal
