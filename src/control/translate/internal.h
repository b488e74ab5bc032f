// Shared by the translator's files (not a public header): the per-proxy view of the Istio
// config (which services, VirtualServices, DestinationRules and Sidecar apply), duration and
// percentage conversions, and the warnings list.
#pragma once

#include <google/protobuf/duration.pb.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/translate/translate.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/listener/v3/listener_components.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/type/v3/percent.pb.h"

namespace weft::control::translate::internal {

using nlohmann::json;

// One stored Istio object with what the translator needs to order and scope it.
struct Config {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string creation;  // metadata.creationTimestamp (RFC 3339 sorts as text)
  json spec;
  std::string Id() const { return kind + " " + namespace_ + "/" + name; }
};

// The proxy's view: services it may reach and the rules that apply to them.
class View {
 public:
  View(const Snapshot& snapshot, const ProxyIdentity& proxy);

  const ProxyIdentity& proxy() const { return proxy_; }
  // Visible services, in registry order (hostname, namespace); one per hostname (the proxy's own
  // namespace first, as Istio prefers).
  const std::vector<const Service*>& services() const { return services_; }
  const Service* FindService(std::string_view fqdn) const;

  // The VirtualService for `host`, for sidecars ("mesh" gateway): exact host beats wildcard,
  // older beats newer (creationTimestamp, then namespace/name).
  const Config* VirtualServiceFor(const Service& service) const;
  // The DestinationRule for `host`: the proxy's namespace, then the service's, then the root
  // namespace (MeshConfig.rootNamespace, istio-system by default); exact host beats wildcard in
  // each.
  const Config* DestinationRuleFor(const Service& service) const;
  // The egress policy: the Sidecar's outboundTrafficPolicy.mode when it sets one, else the mesh
  // config's; true for REGISTRY_ONLY.
  bool registry_only() const { return registry_only_; }
  const MeshConfig& mesh() const { return mesh_; }
  // security.istio.io policies that select this proxy (Istio's scoping: the root namespace's
  // apply mesh-wide, the proxy's namespace's to it; a `selector` must match its labels), oldest
  // first. PeerAuthentication is kept with its scope for precedence (security.cc).
  const std::vector<Config>& peer_authentications() const { return peer_authentications_; }
  const std::vector<Config>& authorization_policies() const { return authorization_policies_; }
  const std::vector<Config>& request_authentications() const { return request_authentications_; }

  // The proxy's namespace's Secrets by name (Istio: a sidecar's credentialName names a Secret of
  // its own namespace), stored objects as the snapshot holds them.
  const std::map<std::string, const json*>& secrets() const { return secrets_; }

  void Warn(std::string message) const { warnings_.insert(std::move(message)); }
  std::vector<std::string> TakeWarnings() const {
    return std::vector<std::string>(warnings_.begin(), warnings_.end());
  }

 private:
  bool ExportedTo(const std::vector<std::string>& export_to, const std::string& owner_ns) const;
  bool EgressAllows(const Service& service) const;

  const ProxyIdentity& proxy_;
  MeshConfig mesh_;
  std::string root_namespace_;  // MeshConfig.rootNamespace: mesh-wide Sidecar and rules
  std::vector<Config> virtual_services_;
  std::vector<Config> destination_rules_;
  std::optional<Config> sidecar_;
  std::vector<Config> peer_authentications_;
  std::vector<Config> authorization_policies_;
  std::vector<Config> request_authentications_;
  std::map<std::string, const json*> secrets_;
  bool registry_only_ = false;
  std::vector<const Service*> services_;
  mutable std::set<std::string> warnings_;
};

// Istio's catch-all clusters (pilot/pkg/networking/util: BlackHoleCluster, PassthroughCluster,
// InboundPassthroughCluster).
inline constexpr char kBlackHoleCluster[] = "BlackHoleCluster";
inline constexpr char kPassthroughCluster[] = "PassthroughCluster";
inline constexpr char kInboundPassthroughCluster[] = "InboundPassthroughCluster";

// Istio durations ("7s", "1.5s", "100ms", "1m", "1h", "2h45m"); nullopt if malformed.
std::optional<google::protobuf::Duration> ParseDuration(const json& value);

// Istio Percent {value: 0..100 double} (or the deprecated integer `percent`) -> an Envoy
// FractionalPercent per million, as Istio converts it.
envoy::type::v3::FractionalPercent PercentOf(const json& percentage, const json& legacy_percent);

// Accessors that tolerate missing keys and wrong types.
Labels LabelsFromJson(const json& j);  // string values of an object
uint32_t U32(const json& j, std::string_view key, uint32_t fallback = 0);
std::string Str(const json& j, std::string_view key);
const json& Obj(const json& j, std::string_view key);  // {} when absent
const json& Arr(const json& j, std::string_view key);  // [] when absent

// The cluster a destination {host, subset, port} names, from the rule in `namespace_`.
// `default_port` is used when the destination has no port and the service has several.
struct Destination {
  std::string cluster;
  const Service* service = nullptr;  // nullptr for hosts outside the registry
  uint32_t port = 0;
  std::string subset;
};
std::optional<Destination> ResolveDestination(const View& view, const json& destination,
                                              std::string_view namespace_, uint32_t default_port,
                                              const std::string& where);

// Route-level hash policies for the DestinationRule's consistentHash (applies to `cluster`).
void AddHashPolicy(const View& view, const Destination& destination,
                   envoy::config::route::v3::RouteAction& action);

// clusters.cc
void BuildOutboundClusters(const View& view, XdsResources& out);
void BuildInboundClusters(const View& view, XdsResources& out);
// routes.cc
void BuildRouteConfigs(const View& view, XdsResources& out);
// The names a client may use for `s`: its FQDN and, for cluster-local services, the shorter
// forms ("reviews" only from the service's own namespace, "reviews.default",
// "reviews.default.svc"), as Istio's virtual host domains.
std::vector<std::string> ServiceHostNames(const Service& s, const View& view);
// The virtual host of `s` on `port`: its VirtualService's http routes (or the default route),
// domains from ServiceHostNames and the VIPs, minus those already in `used_domains`.
envoy::config::route::v3::VirtualHost BuildVirtualHost(const Service& s, uint32_t port,
                                                       const View& view,
                                                       std::set<std::string>& used_domains);
// listeners.cc
void BuildListeners(const View& view, XdsResources& out);
// A listener named "<address>_<port>" on address:port.
envoy::config::listener::v3::Listener NewListener(const std::string& address, uint32_t port);
// The tcp_proxy chain of TCP service `s` on `port` (its VirtualService tcp routes applied).
void AddTcpServiceChain(const Service& s, uint32_t port, envoy::config::listener::v3::Listener& l,
                        const View& view);
// Adds a filter `name` running `config` to `chain`.
void SetNetworkFilter(envoy::config::listener::v3::FilterChain& chain,
                      const google::protobuf::Message& config, const char* name);
// The filter chain of the proxy's own port `p`: an HCM to "inbound|<p>||" for HTTP ports, else a
// tcp_proxy to it; `stat_address` names the listener address in the HCM's stat prefix.
envoy::config::listener::v3::FilterChain InboundChain(const View& view, const ServicePort& p,
                                                      const std::string& stat_address);
// The tcp_proxy chain for a client whose destination no service claims: PassthroughCluster, or
// BlackHoleCluster under REGISTRY_ONLY (Istio's buildOutboundCatchAllNetworkFiltersOnly).
envoy::config::listener::v3::FilterChain EgressChain(const View& view, const std::string& name);
// capture.cc: Istio's capture layout (INTERCEPTION_MODE REDIRECT): virtualOutbound,
// virtualInbound and the `dns` listener.
void BuildCaptureListeners(const View& view, XdsResources& out);
// upstreams.cc: the WEFT_UPSTREAMS listeners of a proxy without capture.
void BuildUpstreamListeners(const View& view, XdsResources& out);
// The HTTP filters of an HCM, by who runs it: a sidecar's outbound chains carry the filters
// VirtualService routes configure (fault, cors); gRPC's proxyless clients only fault (gRPC has
// no CORS filter and refuses unknown ones); inbound chains just the router.
enum class HttpFilters { kRouterOnly, kProxylessGrpc, kSidecarOutbound };
// access_log.cc: MeshConfig.accessLogFile -> Istio's default access log on every connection
// manager and tcp_proxy of a sidecar's listeners.
void AddMeshAccessLogs(const View& view, XdsResources& out);

// secrets.cc: the proxy's namespace's Secrets as SDS resources, Istio's names.
inline constexpr char kKubernetesSecretPrefix[] = "kubernetes://";
inline constexpr char kSdsCaSuffix[] = "-cacert";
void BuildSecrets(const View& view, XdsResources& out);

void AddHttpFilters(
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& m,
    HttpFilters filters);
// proxyless.cc
void BuildProxylessResources(const View& view, XdsResources& out);

// security.cc: PeerAuthentication on the inbound side, auto mTLS and DestinationRule tls on the
// outbound side (docs/user-guide/security-policy.md).
enum class MtlsMode { kUnset, kDisable, kPermissive, kStrict };
// The mode for the proxy's inbound port `port` (Istio's precedence: workload selector >
// namespace > mesh in the root namespace; portLevelMtls of the workload policy; UNSET inherits;
// PERMISSIVE when nothing sets it).
MtlsMode InboundMtlsMode(const View& view, uint32_t port);
// Appends the chains of inbound port `p` built from `plaintext` (InboundChain, with its
// filter_chain_match destination already set), as Istio by mode and protocol: an mTLS chain
// (tls, + Istio's mesh ALPNs when PERMISSIVE; SDS `default`/`ROOTCA`, client certificate
// required) unless DISABLE; when PERMISSIVE on a TCP port a TLS passthrough chain (tls, no
// ALPN, no transport socket); and the plaintext chain (raw_buffer when PERMISSIVE) unless
// STRICT. Returns whether an mTLS chain was added (the listener then has the tls_inspector).
bool AddInboundChains(const View& view, const ServicePort& p,
                      envoy::config::listener::v3::FilterChain plaintext,
                      envoy::config::listener::v3::Listener& l);
// Adds envoy.filters.listener.tls_inspector to `l` unless it has it, and (as Istio's inbound)
// continue_on_listener_filters_timeout: true.
void AddTlsInspector(envoy::config::listener::v3::Listener& l);
// Istio's TCP metadata exchange (security.cc): the istio.metadata_exchange filter first on an
// inbound TCP chain (xdsfilters.TCPListenerMx), and as a cluster filter of an outbound cluster
// of a TCP port (xdsfilters.TCPClusterMx); it runs on connections whose mTLS negotiated the
// ALPN "istio-peer-exchange".
void AddInboundMetadataExchange(envoy::config::listener::v3::FilterChain& chain);
void AddClusterMetadataExchange(const ServicePort& port, envoy::config::cluster::v3::Cluster& c);
// Upstream TLS of an outbound cluster: the DestinationRule's `tls` (effective `policy`) when it
// sets one, else Istio's auto mTLS (transport_socket_matches on endpoint metadata tlsMode istio).
void ApplyUpstreamTls(const View& view, const Service& service, const ServicePort& port,
                      std::string_view subset, const json& policy, const std::string& where,
                      envoy::config::cluster::v3::Cluster& c);
// Istio's endpoint label `security.istio.io/tlsMode`: "istio" for workloads whose sidecar has a
// certificate, "" for the others.
std::string EndpointTlsMode(const Endpoint& e);
// Endpoint metadata envoy.transport_socket_match {tlsMode: istio} for endpoints with a sidecar.
void SetEndpointTlsMetadata(const Endpoint& e, envoy::config::endpoint::v3::LbEndpoint& lb);

// authz.cc / authn.cc: the HTTP filters of an inbound HCM before the router
// (jwt_authn, then RBAC: AUDIT, DENY, ALLOW as Istio orders them), and the network RBAC filters
// of an inbound TCP chain (before tcp_proxy).
void AddInboundHttpSecurityFilters(
    const View& view,
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& m);
void AddInboundNetworkRbac(const View& view, envoy::config::listener::v3::FilterChain& chain);
// authn.cc: jwt_authn (and its JWKS clusters) for the proxy's RequestAuthentications.
void AddJwtAuthn(
    const View& view,
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& m);
void BuildJwksClusters(const View& view, XdsResources& out);

}  // namespace weft::control::translate::internal
