// How a connection to one upstream host is secured: the cluster's transport_socket, or the
// first of its transport_socket_matches whose criteria the host's endpoint metadata
// (filter_metadata["envoy.transport_socket_match"]) satisfies — Istio's auto mTLS marks
// endpoints with sidecars {tlsMode: istio}. Envoy's rules (cluster.proto TransportSocketMatch):
// matches are tried in order, a match applies when every field of its `match` equals the
// endpoint's value (an empty `match` applies to every endpoint), and no match means the
// cluster's own transport_socket (plaintext when it has none).
#pragma once

#include <memory>

#include "proxy/stats/stats.h"
#include "proxy/tls/session_cache.h"
#include "proxy/tls/tls_context.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::cluster {

// Index into config.transport_socket_matches, or -1 for the cluster's transport_socket.
int SelectTransportSocketMatch(const upstream::ClusterConfig& config,
                               const upstream::TransportSocketMatchMetadata& endpoint_metadata);

// What one worker's connections to one host use.
struct UpstreamTransport {
  const tls::TlsContext* tls = nullptr;  // null: plaintext
  // cluster.<name>.<match name>.total_match_count (Envoy's name; "default" when no match
  // applied), counted once per connection here. Null when the cluster has no matches.
  stats::Counter* match_count = nullptr;
  std::shared_ptr<tls::SessionCache> sessions;  // this host's last TLS session on this worker
};

}  // namespace weft::cluster
