// The translator: Istio's traffic resources plus the service registry, seen from one proxy, to
// Envoy v3 xDS resources — a pure, deterministic function (same input, byte-identical output),
// golden-tested in tests/unit/control/translate/.
//
// Shape of the output (see docs/user-guide/traffic-management.md):
// - one outbound listener per service port the proxy may reach, "<outbound_address>_<port>",
//   bound on ProxyIdentity::outbound_address (explicit ports: the app dials localhost:9080);
//   HTTP ports run the http_connection_manager with RDS route config "<port>" whose virtual
//   hosts are the services on that port; TCP/TLS ports run tcp_proxy filter chains;
// - clusters named like Istio's: "outbound|<port>|<subset>|<fqdn>" (EDS for STATIC services,
//   STRICT_DNS / LOGICAL_DNS / ORIGINAL_DST for DNS / DNS_ROUND_ROBIN / NONE), "inbound|<port>||"
//   for the proxy's own ports, BlackHoleCluster and PassthroughCluster;
// - one ClusterLoadAssignment per EDS cluster, endpoints selected by the subset's labels.
// Proxyless gRPC clients (ProxyIdentity::proxyless_grpc) get another shape: see proxyless.cc.
// Security (issue 6; security.cc, authz.cc, authn.cc, docs/user-guide/security-policy.md):
// PeerAuthentication splits each inbound port into an mTLS and a plaintext chain, outbound
// clusters get auto mTLS or the DestinationRule's tls, AuthorizationPolicy and
// RequestAuthentication become RBAC and jwt_authn filters on the inbound chains.
//
// Only fields weft-proxy accepts are emitted (src/proxy/config/supported_fields.cc); Istio fields
// weft-proxy cannot honour yet are skipped and reported in
// XdsResources::warnings rather than silently dropped.
//
// This header includes generated protobuf headers: include it only where xDS resources are built
// or served, never from widely included headers. Stateless; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/translate/mesh_config.h"
#include "control/translate/registry.h"
#include "control/translate/upstream_binding.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/secret.pb.h"

namespace weft::control::translate {

struct Snapshot {
  // Stored Istio objects: {apiVersion, kind, metadata, spec}. VirtualService, DestinationRule,
  // Sidecar, PeerAuthentication, AuthorizationPolicy and RequestAuthentication are read from
  // here (other kinds are ignored by Translate).
  std::vector<nlohmann::json> resources;
  Registry registry;
  // weftd --mesh-config: the egress policy every Sidecar without its own inherits.
  MeshConfig mesh;
};

struct ProxyIdentity {
  std::string node_id;
  std::string namespace_ = "default";
  Labels labels;
  std::string ip;        // the workload's address: inbound listeners bind here
  std::string locality;  // "region/zone/subzone", for locality-aware load balancing
  // The proxy's own service ports: `number` is where peers connect (inbound listener),
  // `target_port` where the application listens on 127.0.0.1 (0 = same as number).
  std::vector<ServicePort> ports;
  // Where the outbound listeners bind (the application dials this address).
  std::string outbound_address = "127.0.0.1";
  // A proxyless gRPC client (node metadata GENERATOR: grpc, as Istio marks them): it gets the
  // proxyless view instead (see BuildProxylessResources in proxyless.cc and
  // docs/user-guide/proxyless-grpc.md): api_listeners named "<host>:<port>", one route config
  // per service port, and only what gRPC's xDS client accepts.
  bool proxyless_grpc = false;
  // Node metadata INTERCEPTION_MODE: REDIRECT: iptables captures the workload's traffic, and the
  // proxy gets Istio's capture layout (capture.cc: virtualOutbound 15001, virtualInbound 15006,
  // the `dns` listener on 127.0.0.1:15053, per-port listeners with bind_to_port false).
  bool capture = false;
  // Node metadata WEFT_UPSTREAMS (no-capture only; upstreams.cc).
  std::vector<UpstreamBinding> upstreams;
  // Node metadata WEFT_MTLS: "true": the proxy has a workload certificate (its identity agent
  // serves SDS `default` and `ROOTCA`). Only then does PERMISSIVE add the inbound mTLS chain and
  // auto mTLS apply to its clusters: a chain or cluster naming a secret that never comes would
  // keep the listener or cluster warming. STRICT fails closed either way (mTLS chain only).
  bool mtls = false;
};

struct XdsResources {
  std::vector<envoy::config::listener::v3::Listener> listeners;               // sorted by name
  std::vector<envoy::config::route::v3::RouteConfiguration> route_configs;    // sorted by name
  std::vector<envoy::config::cluster::v3::Cluster> clusters;                  // sorted by name
  std::vector<envoy::config::endpoint::v3::ClusterLoadAssignment> endpoints;  // by cluster_name
  // SDS secrets (secrets.cc): the proxy's namespace's Secrets, "kubernetes://<name>" (certificate
  // and key) and "kubernetes://<name>-cacert" (the CA), sorted by name. They hold private keys:
  // never log or dump them.
  std::vector<envoy::extensions::transport_sockets::tls::v3::Secret> secrets;
  // What was skipped and why, e.g. "VirtualService default/reviews: http[0].corsPolicy: not
  // supported by weft-proxy yet (skipped)". Sorted, deduplicated.
  std::vector<std::string> warnings;
};

XdsResources Translate(const Snapshot& snapshot, const ProxyIdentity& proxy);

// "outbound|9080|v1|reviews.default.svc.cluster.local" / "inbound|9080||".
std::string OutboundClusterName(uint32_t port, std::string_view subset, std::string_view host);
std::string InboundClusterName(uint32_t port);

}  // namespace weft::control::translate
