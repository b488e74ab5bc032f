// Who a connecting proxy is, from the Node it sends on its ADS stream: the translator's
// ProxyIdentity (namespace, labels, IP, locality, outbound address) and what weftd registers as
// its workload (name, service account, ports, WorkloadGroup; see workload_registry.h).
//
// Sources, in this order (later ones win where both say something):
// 1. The node id, Istio's sidecar convention
// `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`
//    (e.g. "sidecar~10.0.0.7~reviews-v1-5f6d.default~default.svc.cluster.local"): IP and namespace.
//    An id of another shape contributes nothing (it stays the node's key for the cache).
// 2. Node metadata, as Istio's pilot-agent sends it (istio pkg/model/proxy.go, NodeMetadata):
//    NAMESPACE (string), LABELS (object of string values), INSTANCE_IPS (comma-separated; the
//    first is the IP), NAME (the pod/workload name), SERVICE_ACCOUNT, POD_PORTS (a *string*
//    holding a JSON array of Kubernetes ContainerPorts, `[{"name":"http","containerPort":9080,
//    "protocol":"TCP"}]`; a JSON array is accepted too), AUTO_REGISTER_GROUP (a WorkloadGroup in
//    the node's namespace), NETWORK; and Weft's own WEFT_OUTBOUND_ADDRESS (the IP the proxy's
//    outbound listeners bind, default 127.0.0.1, so that several proxies share one host).
//    INTERCEPTION_MODE (Istio's key and values: "REDIRECT" = iptables captures the workload's
//    traffic; absent or "NONE" = no capture; Istio's TPROXY is refused, weft has no TPROXY
//    support) and Weft's WEFT_UPSTREAMS ("reviews:9080=127.0.0.1:19080,ratings:9080=..."), the
//    explicit outbound listeners of a proxy without capture.
// 3. node.locality ("region/zone/sub_zone").
// Node metadata GENERATOR: "grpc" marks a proxyless gRPC client: Istio's gRPC injection templates
// set ISTIO_META_GENERATOR=grpc, which pilot-agent copies into the gRPC bootstrap's node metadata
// (istio pkg/istio-agent/grpcxds/grpc_bootstrap.go; testdata/grpc-bootstrap.json shows the
// result). Such a node gets the proxyless view.
// The namespace defaults to "default" when neither names one.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "control/translate/registry.h"
#include "control/translate/upstream_binding.h"

namespace weft::control::mesh {

// One entry of POD_PORTS.
struct PodPort {
  std::string name;  // may be empty: such a port backs no named service port
  uint32_t container_port = 0;
  std::string protocol;  // as sent ("TCP", "UDP", "SCTP"); informational
};

struct NodeIdentity {
  std::string node_id;
  std::string namespace_ = "default";
  translate::Labels labels;
  std::string ip;
  std::string locality;
  std::string name;  // NAME, empty when not sent
  std::string service_account;
  // WEFT_MTLS: "true": the proxy's identity agent has a workload certificate (ProxyIdentity::mtls).
  bool mtls = false;
  std::vector<PodPort> pod_ports;
  std::string auto_register_group;
  std::string network;
  std::string outbound_address;                       // empty: the translator's default (127.0.0.1)
  bool proxyless_grpc = false;                        // metadata.GENERATOR == "grpc"
  bool capture = false;                               // metadata.INTERCEPTION_MODE == "REDIRECT"
  std::vector<translate::UpstreamBinding> upstreams;  // metadata.WEFT_UPSTREAMS
};

// `metadata_json` is node.metadata as JSON ("" or "{}" for none). Refuses metadata of the wrong
// shape with the field's path (e.g. "metadata.LABELS.app: not a string").
absl::StatusOr<NodeIdentity> ParseNodeIdentity(const std::string& node_id,
                                               const std::string& metadata_json,
                                               const std::string& locality);

}  // namespace weft::control::mesh
