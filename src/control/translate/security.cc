// Transport security of a sidecar, as Istio generates it:
// - inbound: PeerAuthentication decides per port whether peers must (STRICT), may (PERMISSIVE)
//   or must not (DISABLE) use mutual TLS; an mTLS chain matches transport_protocol "tls" and
//   Istio's mesh ALPNs and terminates with the workload certificate (SDS `default`), verifying
//   the client against the mesh root (SDS `ROOTCA`);
// - outbound: auto mTLS (endpoints of workloads with sidecars carry metadata
//   envoy.transport_socket_match {tlsMode: istio}; the cluster's transport_socket_matches give
//   them Istio's UpstreamTlsContext) unless the DestinationRule sets trafficPolicy.tls.
// SDS secrets are asked for over ADS: weft-proxy's identity agent serves `default` and `ROOTCA`
// in-process for any sds_config naming them (issue 6 contract, section 3).
#include <google/protobuf/struct.pb.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "control/model/secret.h"
#include "control/translate/internal.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace lst = envoy::config::listener::v3;
namespace tls = envoy::extensions::transport_sockets::tls::v3;
namespace cluster_pb = envoy::config::cluster::v3;

// Istio's SDS resource names (pilot/pkg/model/authentication.go: SDSDefaultResourceName
// "default", SDSRootResourceName "ROOTCA").
constexpr char kSdsDefault[] = "default";
constexpr char kSdsRoot[] = "ROOTCA";
constexpr char kTlsSocket[] = "envoy.transport_sockets.tls";
// Istio's endpoint metadata key and value for auto mTLS (pilot/pkg/networking/util:
// EnvoyTransportSocketMetadataKey "envoy.transport_socket_match", model.IstioMutualTLSModeLabel
// "istio"); the label on workloads is `security.istio.io/tlsMode`.
constexpr char kTransportSocketMatchKey[] = "envoy.transport_socket_match";
constexpr char kTlsModeLabel[] = "security.istio.io/tlsMode";

// Istio's mesh ALPNs (pilot/pkg/networking/util/util.go and plugin/authn): a sidecar's mTLS
// client offers "istio-http/1.0|1.1", "istio-h2" for HTTP and "istio-peer-exchange", "istio" for
// TCP; the inbound mTLS chain accepts all of them so either side's choice meets.
const std::vector<std::string>& InboundMeshAlpns() {
  static const std::vector<std::string> alpns = {"istio-peer-exchange", "istio", "istio-http/1.0",
                                                 "istio-http/1.1", "istio-h2"};
  return alpns;
}

MtlsMode ModeOf(const json& mtls) {
  const std::string mode = Str(mtls, "mode");
  if (mode == "DISABLE") return MtlsMode::kDisable;
  if (mode == "PERMISSIVE") return MtlsMode::kPermissive;
  if (mode == "STRICT") return MtlsMode::kStrict;
  return MtlsMode::kUnset;
}

tls::SdsSecretConfig Sds(const char* name) {
  tls::SdsSecretConfig s;
  s.set_name(name);
  s.mutable_sds_config()->mutable_ads();
  s.mutable_sds_config()->set_resource_api_version(envoy::config::core::v3::V3);
  return s;
}

// The workload certificate and the mesh root: Istio's ISTIO_MUTUAL common context.
void SetIstioCertificates(tls::CommonTlsContext& common) {
  *common.add_tls_certificate_sds_secret_configs() = Sds(kSdsDefault);
  auto* combined = common.mutable_combined_validation_context();
  combined->mutable_default_validation_context();
  *combined->mutable_validation_context_sds_secret_config() = Sds(kSdsRoot);
}

void SetTransportSocket(envoy::config::core::v3::TransportSocket& socket,
                        const google::protobuf::Message& context) {
  socket.set_name(kTlsSocket);
  socket.mutable_typed_config()->PackFrom(context);
}

void AddUriSan(tls::CertificateValidationContext& v, const std::string& uri) {
  auto* m = v.add_match_typed_subject_alt_names();
  m->set_san_type(tls::SubjectAltNameMatcher::URI);
  m->mutable_matcher()->set_exact(uri);
}

// Istio's ALPN of an mTLS client by the port's protocol (util.ALPNInMeshH2 / ALPNInMesh, with
// the istio-http ones the contract names for HTTP/1.1). TCP offers util.ALPNInMeshWithMxc
// ("istio-peer-exchange", "istio": cluster_tls.go, "For TCP with mTLS, we advertise
// istio-peer-exchange from client and expect the same from server") so that the two sidecars
// exchange their workload metadata (AddClusterMetadataExchange).
std::vector<std::string> UpstreamMeshAlpns(const ServicePort& port) {
  const std::string protocol = PortProtocol(port);
  if (protocol == "HTTP2" || protocol == "GRPC" || protocol == "GRPC-WEB") {
    return {"istio-h2", "istio", "h2"};
  }
  if (IsHttpProtocol(protocol)) return {"istio-http/1.1", "istio"};
  return {"istio-peer-exchange", "istio"};
}

// Istio's MetadataExchange config (pilot/pkg/xds/filters: tcpMx), in a TypedStruct: its proto
// is not in Weft's tree. enable_discovery (Istio's workload discovery fallback) is left out:
// weftd serves no workload discovery.
google::protobuf::Any MetadataExchangeTypedConfig() {
  xds::type::v3::TypedStruct mx;
  mx.set_type_url("type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange");
  (*mx.mutable_value()->mutable_fields())["protocol"].set_string_value("istio-peer-exchange");
  google::protobuf::Any any;
  any.PackFrom(mx);
  return any;
}

constexpr char kMetadataExchangeFilter[] = "istio.metadata_exchange";  // xdsfilters.MxFilterName

// Istio's ISTIO_MUTUAL context to a mesh destination: SNI names the cluster
// (outbound_.<port>_.<subset>_.<host>, model.BuildDNSSrvSubsetKey), SANs are the destination's
// service accounts' SPIFFE ids.
tls::UpstreamTlsContext IstioMutual(const View& view, const Service& service,
                                    const ServicePort& port, std::string_view subset) {
  tls::UpstreamTlsContext ctx;
  SetIstioCertificates(*ctx.mutable_common_tls_context());
  for (const std::string& alpn : UpstreamMeshAlpns(port)) {
    ctx.mutable_common_tls_context()->add_alpn_protocols(alpn);
  }
  ctx.set_sni(
      absl::StrCat("outbound_.", port.number, "_.", std::string(subset), "_.", service.hostname));
  std::set<std::string> accounts;
  for (const Endpoint& e : service.endpoints) {
    if (!e.service_account.empty()) {
      accounts.insert(absl::StrCat("spiffe://", view.mesh().trust_domain, "/ns/",
                                   service.namespace_, "/sa/", e.service_account));
    }
  }
  auto* v = ctx.mutable_common_tls_context()
                ->mutable_combined_validation_context()
                ->mutable_default_validation_context();
  for (const std::string& uri : accounts) AddUriSan(*v, uri);
  return ctx;
}

// Where a context's own validation rules go: beside an SDS validation context (ISTIO_MUTUAL,
// credentialName), in the combined context's default_validation_context; otherwise the plain
// validation_context.
tls::CertificateValidationContext* StaticValidation(tls::UpstreamTlsContext& ctx) {
  auto* common = ctx.mutable_common_tls_context();
  if (common->has_combined_validation_context()) {
    return common->mutable_combined_validation_context()->mutable_default_validation_context();
  }
  return common->mutable_validation_context();
}

// ClientTLSSettings.credential_name: the certificates come from a Secret of the proxy's
// namespace over SDS on the ADS stream, with Istio's names and shape (pilot/pkg/networking/core
// cluster_tls.go, buildUpstreamClusterTLSContext: MUTUAL sets
// tls_certificate_sds_secret_configs "kubernetes://<name>" and, for both SIMPLE and MUTUAL, a
// combined_validation_context whose SDS part is "kubernetes://<name>-cacert", sds_config
// {ads: {}, resource_api_version: V3} = credentials' SDSAdsConfig). weftd serves them
// (secrets.cc); file paths in the same rule are ignored, as Istio ignores them.
void ApplyCredentialName(const View& view, const Service& service, const std::string& mode,
                         const std::string& credential, const json& t, const std::string& where,
                         tls::UpstreamTlsContext& ctx) {
  const auto secret = view.secrets().find(credential);
  if (secret == view.secrets().end()) {
    // Istio keeps the cluster and its handshakes fail until the Secret exists; weft does the
    // same (the proxy's context waits for the SDS secret), and says why here.
    view.Warn(absl::StrCat(where, ": tls.credentialName: no Secret ", view.proxy().namespace_, "/",
                           credential, " (a sidecar's credential must be in its own namespace)"));
  } else if (std::optional<TlsCredential> c = TlsCredentialOf(*secret->second); c) {
    // What the handshake will wait for in vain: say so now.
    if (c->ca_pem.empty()) {
      view.Warn(absl::StrCat(where, ": tls.credentialName: Secret ", view.proxy().namespace_, "/",
                             credential, " has no CA (ca.crt or cacert)"));
    }
    if (mode == "MUTUAL" && c->private_key_pem.empty()) {
      view.Warn(absl::StrCat(where, ": tls.credentialName: Secret ", view.proxy().namespace_, "/",
                             credential, " has no client certificate and key"));
    }
  }
  const std::string name = absl::StrCat(kKubernetesSecretPrefix, credential);
  auto* common = ctx.mutable_common_tls_context();
  if (mode == "MUTUAL") *common->add_tls_certificate_sds_secret_configs() = Sds(name.c_str());
  auto* combined = common->mutable_combined_validation_context();
  combined->mutable_default_validation_context();
  *combined->mutable_validation_context_sds_secret_config() =
      Sds(absl::StrCat(name, kSdsCaSuffix).c_str());
  ctx.set_sni(service.hostname);
  for (const char* ignored : {"clientCertificate", "privateKey", "caCertificates"}) {
    if (!Str(t, ignored).empty()) {
      view.Warn(absl::StrCat(where, ": tls.", ignored, ": ignored (credentialName is set)"));
    }
  }
}

// DestinationRule ClientTLSSettings (networking/v1alpha3/destination_rule.proto) -> the
// cluster's transport_socket; DISABLE leaves it plaintext.
void ApplyClientTls(const View& view, const Service& service, const ServicePort& port,
                    std::string_view subset, const json& t, const std::string& where,
                    cluster_pb::Cluster& c) {
  const std::string mode = Str(t, "mode");
  if (mode == "DISABLE" || mode.empty()) return;
  tls::UpstreamTlsContext ctx;
  if (mode == "ISTIO_MUTUAL") {
    ctx = IstioMutual(view, service, port, subset);
  } else if (const std::string credential = Str(t, "credentialName"); !credential.empty()) {
    ApplyCredentialName(view, service, mode, credential, t, where, ctx);
  } else {  // SIMPLE, MUTUAL with file paths
    auto* common = ctx.mutable_common_tls_context();
    auto* v = common->mutable_validation_context();
    if (const std::string ca = Str(t, "caCertificates"); !ca.empty()) {
      v->mutable_trusted_ca()->set_filename(ca);
    }
    if (mode == "MUTUAL") {
      const std::string cert = Str(t, "clientCertificate");
      const std::string key = Str(t, "privateKey");
      if (cert.empty() || key.empty()) {
        view.Warn(absl::StrCat(where,
                               ": tls: MUTUAL needs clientCertificate and privateKey "
                               "(plaintext instead)"));
        return;
      }
      auto* pair = common->add_tls_certificates();
      pair->mutable_certificate_chain()->set_filename(cert);
      pair->mutable_private_key()->set_filename(key);
    }
    // Istio's SIMPLE/MUTUAL default SNI is the destination host when none is set (since 1.x
    // with VERIFY_CERTIFICATE_AT_CLIENT); the DR's sni wins below.
    ctx.set_sni(service.hostname);
  }
  if (mode != "ISTIO_MUTUAL" && !Str(t, "caCrl").empty()) {
    view.Warn(absl::StrCat(where, ": tls.caCrl: not supported"));
  }
  if (const std::string sni = Str(t, "sni"); !sni.empty()) ctx.set_sni(sni);
  const json& sans = Arr(t, "subjectAltNames");
  if (!sans.empty()) {
    // The rule's SANs replace Istio's service-account ones; as Istio, each is matched as a URI
    // or DNS name (exact).
    tls::CertificateValidationContext* v = StaticValidation(ctx);
    v->clear_match_typed_subject_alt_names();
    for (const json& san : sans) {
      if (!san.is_string()) continue;
      const std::string value = san.get<std::string>();
      if (value.find("://") != std::string::npos) {
        AddUriSan(*v, value);
      } else {
        auto* m = v->add_match_typed_subject_alt_names();
        m->set_san_type(tls::SubjectAltNameMatcher::DNS);
        m->mutable_matcher()->set_exact(value);
      }
    }
  }
  if (t.contains("insecureSkipVerify") && t["insecureSkipVerify"].is_boolean() &&
      t["insecureSkipVerify"].get<bool>() && mode != "ISTIO_MUTUAL") {
    // Envoy's CertificateValidationContext.trust_chain_verification ACCEPT_UNTRUSTED.
    StaticValidation(ctx)->set_trust_chain_verification(
        tls::CertificateValidationContext::ACCEPT_UNTRUSTED);
  }
  SetTransportSocket(*c.mutable_transport_socket(), ctx);
}

}  // namespace

std::string EndpointTlsMode(const Endpoint& e) {
  // Istio's injector label; weftd sets it on proxies that register with WEFT_MTLS
  // (mesh/workload_registry.cc).
  const auto it = e.labels.find(kTlsModeLabel);
  return it != e.labels.end() && it->second == "istio" ? "istio" : "";
}

MtlsMode InboundMtlsMode(const View& view, uint32_t port) {
  const std::string& root = view.mesh().root_namespace;
  const std::string& ns = view.proxy().namespace_;
  // The oldest policy at each level wins, as Istio (peer_authentication.go,
  // getMostSpecificConfig / ComposePeerAuthentication).
  const Config* mesh = nullptr;
  const Config* namespace_level = nullptr;
  const Config* workload = nullptr;
  for (const Config& pa : view.peer_authentications()) {
    const bool has_selector = !Obj(Obj(pa.spec, "selector"), "matchLabels").empty();
    if (pa.namespace_ == ns && has_selector) {
      if (workload == nullptr) workload = &pa;
    } else if (pa.namespace_ == ns && !has_selector && ns != root) {
      if (namespace_level == nullptr) namespace_level = &pa;
    } else if (pa.namespace_ == root && !has_selector) {
      if (mesh == nullptr) mesh = &pa;
    }
  }
  MtlsMode mode = MtlsMode::kPermissive;  // Istio's default without any policy
  for (const Config* pa : {mesh, namespace_level, workload}) {
    if (pa == nullptr) continue;
    if (MtlsMode m = ModeOf(Obj(pa->spec, "mtls")); m != MtlsMode::kUnset) mode = m;
  }
  // portLevelMtls only counts on a workload policy (Istio ignores it without a selector).
  if (workload != nullptr) {
    const json& ports = Obj(workload->spec, "portLevelMtls");
    if (const auto it = ports.find(std::to_string(port)); it != ports.end()) {
      if (MtlsMode m = ModeOf(*it); m != MtlsMode::kUnset) mode = m;
    }
  }
  for (const Config* pa : {mesh, namespace_level}) {
    if (pa != nullptr && !Obj(pa->spec, "portLevelMtls").empty()) {
      view.Warn(absl::StrCat(pa->Id(), ": portLevelMtls needs a selector (ignored, as Istio)"));
    }
  }
  return mode;
}

void AddTlsInspector(lst::Listener& l) {
  for (const auto& f : l.listener_filters()) {
    if (f.name() == "envoy.filters.listener.tls_inspector") return;
  }
  auto* f = l.add_listener_filters();
  f->set_name("envoy.filters.listener.tls_inspector");
  f->mutable_typed_config()->PackFrom(
      envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector());
  // As Istio's inbound listeners (pilot's listener builder sets ContinueOnListenerFiltersTimeout
  // on them): a server-speaks-first protocol (MySQL, SMTP) on a PERMISSIVE port sends nothing
  // for the inspector to look at, and after listener_filters_timeout (15 s) gets the plaintext
  // chain instead of being closed.
  l.set_continue_on_listener_filters_timeout(true);
}

bool AddInboundChains(const View& view, const ServicePort& p, lst::FilterChain plaintext,
                      lst::Listener& l) {
  MtlsMode mode = InboundMtlsMode(view, p.number);
  if (!view.proxy().mtls) {
    // No workload certificate (ProxyIdentity::mtls): PERMISSIVE serves plaintext only; STRICT
    // still refuses plaintext (its mTLS chain cannot complete a handshake until the proxy has
    // an identity).
    if (mode == MtlsMode::kPermissive) mode = MtlsMode::kDisable;
    if (mode == MtlsMode::kStrict) {
      view.Warn(absl::StrCat("inbound port ", p.number,
                             ": STRICT mTLS but the proxy has no workload certificate "
                             "(WEFT_MTLS): no connection is accepted"));
    }
  }
  // The chains of one inbound port, as Istio's filter-chain match options by mode and port
  // protocol (pilot/pkg/networking/core/filterchain_options.go, getFilterChainMatchOptions;
  // Istio 1.2x):
  //   PERMISSIVE HTTP: mTLS {tls, mesh ALPNs}; plaintext {raw_buffer}
  //   PERMISSIVE TCP:  mTLS {tls, mesh ALPNs}; TLS passthrough {tls}; plaintext {raw_buffer}
  //   STRICT (both):   mTLS {tls} -- no ALPN: any TLS client reaches the handshake, which
  //                    then requires the mesh's client certificate
  //   DISABLE (both):  plaintext only
  // The TLS passthrough chain is needed because chain matching does not fall back (Envoy's
  // rule, tls.md): a ClientHello without mesh ALPNs (an application's own TLS, e.g.
  // `curl https://pod:8443`) selects the `tls` level and would otherwise fail on ALPN and be
  // closed. It is the plaintext chain (tcp_proxy to the application) without a transport
  // socket: the bytes, ClientHello first, reach the application, which ends the TLS itself.
  // Istio has no such chain on declared HTTP ports ("explicitly declared as HTTP type"), so
  // neither do we: a non-mesh TLS client of an HTTP port is closed, as with Istio. Istio's
  // plaintext ALPNs (http/1.1, h2c) only appear on ports of undeclared protocol, which Istio
  // sniffs with the http_inspector; weftd treats such ports as TCP (no sniffing).
  const bool http = IsHttpProtocol(PortProtocol(p));
  bool added_tls = false;
  if (mode != MtlsMode::kDisable) {
    lst::FilterChain mtls = plaintext;
    mtls.set_name(absl::StrCat(plaintext.name(), "-mtls"));
    auto* match = mtls.mutable_filter_chain_match();
    match->set_transport_protocol("tls");
    if (mode == MtlsMode::kPermissive) {
      // Istio's allIstioMtlsALPNs (PERMISSIVE HTTP and TCP options).
      for (const std::string& alpn : InboundMeshAlpns()) match->add_application_protocols(alpn);
    }
    tls::DownstreamTlsContext ctx;
    SetIstioCertificates(*ctx.mutable_common_tls_context());
    // The application protocols the HCM may speak after the handshake (Istio's inbound
    // ALPN h2, http/1.1 for HTTP ports). TCP ports offer "istio-peer-exchange" first, which a
    // mesh client offers for the metadata exchange (pilot/pkg/security/authn BuildInboundTLS:
    // util.ALPNDownstreamWithMxc = istio-peer-exchange, h2, http/1.1).
    if (!http) ctx.mutable_common_tls_context()->add_alpn_protocols("istio-peer-exchange");
    ctx.mutable_common_tls_context()->add_alpn_protocols("h2");
    ctx.mutable_common_tls_context()->add_alpn_protocols("http/1.1");
    ctx.mutable_require_client_certificate()->set_value(true);
    SetTransportSocket(*mtls.mutable_transport_socket(), ctx);
    *l.add_filter_chains() = std::move(mtls);
    added_tls = true;
  }
  if (mode == MtlsMode::kPermissive) {
    if (!http) {
      lst::FilterChain passthrough = plaintext;
      passthrough.set_name(absl::StrCat(plaintext.name(), "-tls-passthrough"));
      passthrough.mutable_filter_chain_match()->set_transport_protocol("tls");
      *l.add_filter_chains() = std::move(passthrough);
    }
    plaintext.mutable_filter_chain_match()->set_transport_protocol("raw_buffer");
  }
  // DISABLE keeps the plaintext chain without transport_protocol: it then takes every
  // connection to the port, TLS or not, even on a listener whose tls_inspector other ports
  // need -- what Istio gets by disabling the inspector for ports that need no TLS
  // (listener_builder.go, populateListenerFilters / filter_disabled), which weft-proxy does
  // not implement.
  if (mode != MtlsMode::kStrict) *l.add_filter_chains() = std::move(plaintext);
  if (added_tls) AddTlsInspector(l);
  return added_tls;
}

void ApplyUpstreamTls(const View& view, const Service& service, const ServicePort& port,
                      std::string_view subset, const json& policy, const std::string& where,
                      cluster_pb::Cluster& c) {
  if (policy.contains("tls")) {
    ApplyClientTls(view, service, port, subset, Obj(policy, "tls"), where, c);
    return;
  }
  // Auto mTLS only from a proxy with a certificate, where some endpoint has a sidecar; only EDS
  // clusters carry endpoint metadata (BuildLoadAssignment).
  if (!view.proxy().mtls || c.type() != cluster_pb::Cluster::EDS) return;
  bool any_sidecar = false;
  for (const Endpoint& e : service.endpoints) any_sidecar |= EndpointTlsMode(e) == "istio";
  if (!any_sidecar) return;
  auto* m = c.add_transport_socket_matches();
  // Istio's names for the two matches (pilot/pkg/networking/core/cluster_tls.go:
  // "tlsMode-istio", "tlsMode-disabled"); endpoints without the metadata use the cluster's own
  // transport socket, plaintext.
  m->set_name("tlsMode-istio");
  (*m->mutable_match()->mutable_fields())["tlsMode"].set_string_value("istio");
  SetTransportSocket(*m->mutable_transport_socket(), IstioMutual(view, service, port, subset));
}

void SetEndpointTlsMetadata(const Endpoint& e, envoy::config::endpoint::v3::LbEndpoint& lb) {
  if (EndpointTlsMode(e) != "istio") return;
  auto& md = (*lb.mutable_metadata()->mutable_filter_metadata())[kTransportSocketMatchKey];
  (*md.mutable_fields())["tlsMode"].set_string_value("istio");
}

void AddInboundMetadataExchange(lst::FilterChain& chain) {
  // First on the chain, before network RBAC and istio.stats (networkfilter.go:
  // buildMetadataExchangeNetworkFilters, "We add metadata exchange on inbound only; outbound is
  // handled in cluster filter").
  auto* f = chain.add_filters();
  f->set_name(kMetadataExchangeFilter);
  *f->mutable_typed_config() = MetadataExchangeTypedConfig();
}

void AddClusterMetadataExchange(const ServicePort& port, cluster_pb::Cluster& c) {
  // Istio puts it on every outbound cluster (cluster_builder.go applyMetadataExchange); it can
  // only act where the client offers istio-peer-exchange, i.e. TCP ports, so weftd writes it
  // there only.
  if (IsHttpProtocol(PortProtocol(port))) return;
  auto* f = c.add_filters();
  f->set_name(kMetadataExchangeFilter);
  *f->mutable_typed_config() = MetadataExchangeTypedConfig();
}

}  // namespace weft::control::translate::internal
