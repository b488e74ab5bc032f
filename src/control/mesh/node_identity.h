// Who a connecting proxy is, from the Node it sends on its ADS stream: the translator's
// ProxyIdentity (namespace, labels, IP, locality).
//
// Sources, in this order (later ones win where both say something):
// 1. The node id, Istio's sidecar convention
// `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`
//    (e.g. "sidecar~10.0.0.7~reviews-v1-5f6d.default~default.svc.cluster.local"): IP and namespace.
//    An id of another shape contributes nothing (it stays the node's key for the cache).
// 2. Node metadata, as Istio's pilot-agent sends it: NAMESPACE (string), LABELS (object of
//    string values), INSTANCE_IPS (comma-separated; the first is the IP).
// 3. node.locality ("region/zone/sub_zone").
// Node metadata GENERATOR: "grpc" marks a proxyless gRPC client: Istio's gRPC injection templates
// set ISTIO_META_GENERATOR=grpc, which pilot-agent copies into the gRPC bootstrap's node metadata
// (istio pkg/istio-agent/grpcxds/grpc_bootstrap.go; testdata/grpc-bootstrap.json shows the
// result). Such a node gets the proxyless view.
// The namespace defaults to "default" when neither names one.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "control/translate/registry.h"

namespace weft::control::mesh {

struct NodeIdentity {
  std::string node_id;
  std::string namespace_ = "default";
  translate::Labels labels;
  std::string ip;
  std::string locality;
  bool proxyless_grpc = false;  // metadata.GENERATOR == "grpc"
};

// `metadata_json` is node.metadata as JSON ("" or "{}" for none). Refuses metadata of the wrong
// shape with the field's path (e.g. "metadata.LABELS.app: not a string").
absl::StatusOr<NodeIdentity> ParseNodeIdentity(const std::string& node_id,
                                               const std::string& metadata_json,
                                               const std::string& locality);

}  // namespace weft::control::mesh
