// Istio's workload metadata and its exchange between sidecars in HTTP headers.
//
// A sidecar knows its own workload from its node metadata (what pilot-agent, or weftctl, puts in
// the bootstrap: NAME, NAMESPACE, WORKLOAD_NAME, SERVICE_ACCOUNT, CLUSTER_ID, LABELS {app,
// version, ...}). It learns its peer's from two headers Istio's metadata exchange adds: the
// client sidecar puts them on the request, the server sidecar on the response, and each side
// reads and removes what the other sent, so the application never sees them:
//   x-envoy-peer-metadata-id: the node id ("sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local")
//   x-envoy-peer-metadata:    base64 (standard alphabet, padded) of a serialized
//                             google.protobuf.Struct holding the node metadata's fields
// (istio/proxy extensions/common/metadata_object.h names the headers; the Struct encoding is
// the one of Istio's metadata_exchange filter). The Struct is written and read here in
// protobuf's wire format by hand: it is a few string fields and one nested Struct, and doing it
// by hand keeps libprotobuf off the per-request path.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace weft::filters::istio {

inline constexpr std::string_view kPeerMetadataIdHeader = "x-envoy-peer-metadata-id";
inline constexpr std::string_view kPeerMetadataHeader = "x-envoy-peer-metadata";

// One workload as Istio's stats read it. Empty strings mean "not known".
struct WorkloadMetadata {
  std::string node_id;                        // exchanged in x-envoy-peer-metadata-id
  std::string name;                           // NAME: the pod (instance) name
  std::string namespace_;                     // NAMESPACE
  std::string workload_name;                  // WORKLOAD_NAME
  std::string service_account;                // SERVICE_ACCOUNT
  std::string cluster_id;                     // CLUSTER_ID
  std::string owner;                          // OWNER
  std::string mesh_id;                        // MESH_ID
  std::map<std::string, std::string> labels;  // LABELS

  std::string Label(std::string_view key) const;
  // Istio's canonical service: service.istio.io/canonical-name, else app.kubernetes.io/name,
  // else app, else the workload name (istio pkg/config/labels canonical service rules).
  std::string CanonicalService() const;
  // service.istio.io/canonical-revision, else app.kubernetes.io/version, else version, else
  // "latest".
  std::string CanonicalRevision() const;
};

// The node's metadata as the bootstrap loader keeps it (flat strings; a nested value such as
// LABELS as its JSON text).
WorkloadMetadata WorkloadFromNode(const std::string& node_id,
                                  const std::map<std::string, std::string>& node_metadata);

// google.protobuf.Struct in protobuf's binary form, and back. Decoding keeps the fields above
// and skips any other, whatever its type; nullopt for bytes that are not a Struct.
std::string EncodeWorkloadStruct(const WorkloadMetadata& workload);
std::optional<WorkloadMetadata> DecodeWorkloadStruct(std::string_view bytes);

// The x-envoy-peer-metadata header value (base64 of the Struct), and back.
std::string EncodePeerHeader(const WorkloadMetadata& workload);
std::optional<WorkloadMetadata> DecodePeerHeader(std::string_view value);

// Istio's TCP metadata exchange (the `mx` protocol of istio/proxy
// source/extensions/filters/network/metadata_exchange): on a connection whose TLS negotiated the
// ALPN "istio-peer-exchange", each side first writes one frame, and reads the peer's frame off
// the front of what it receives before the application's bytes:
//   magic     uint32, big-endian, 0x3D230467 (metadata_exchange_initial_header.h)
//   data_size uint32, big-endian: the size of what follows
//   data      google.protobuf.Any{type_url "type.googleapis.com/google.protobuf.Struct",
//             value: Struct{"x-envoy-peer-metadata": <the node metadata Struct above>,
//                           "x-envoy-peer-metadata-id": <the node id>}}
// (metadata_exchange.cc constructProxyHeaderData / writeNodeMetadata / tryReadProxyData).
inline constexpr std::string_view kPeerExchangeAlpn = "istio-peer-exchange";
inline constexpr uint32_t kMxMagic = 0x3D230467;
inline constexpr size_t kMxHeaderSize = 8;
// Weft's bound on data_size (Istio has none): node metadata is a few hundred bytes; a larger
// size is taken as "not a frame" rather than buffered.
inline constexpr uint32_t kMxMaxDataSize = 64 * 1024;

std::string EncodeMxFrame(const WorkloadMetadata& workload);

struct MxRead {
  enum class Status {
    kNeedMore,   // a prefix of a frame: wait for more bytes
    kNotAFrame,  // wrong magic or an oversized length: the bytes are the application's
    kDone,       // a whole frame of `size` bytes
  };
  Status status = Status::kNeedMore;
  size_t size = 0;
  // kDone: the peer, unless the frame's data is not the Struct described above (then the frame
  // is still consumed and the peer stays unknown).
  std::optional<WorkloadMetadata> peer;
  std::string_view peer_struct;  // the peer's node metadata Struct, a view into the input
};
// Reads the frame at the start of `bytes`. Never reads past `bytes`, whatever they hold.
MxRead ReadMxFrame(std::string_view bytes);

}  // namespace weft::filters::istio
