// weftd's xDS server: envoy.service.discovery.v3.AggregatedDiscoveryService over Debian's grpc++,
// both StreamAggregatedResources (state of the world) and DeltaAggregatedResources (incremental),
// serving what a SnapshotCache holds per node.
//
// Threads: gRPC's callback API, so a stream holds no thread: gRPC's own few threads complete
// reads and writes, and two push threads build the responses for snapshot changes. 1000 proxies
// cost 1000 small stream objects, not 2000 threads (docs/architecture.md, "ADS server").
//
// gRPC and protobuf stay behind this header (pimpl). Start/Shutdown from one thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/xds/snapshot_cache.h"

namespace grpc {
class Service;
}

namespace weft::control::xds {

// Who opened a stream: envoy.config.core.v3.Node from the stream's first request, in plain
// form so the hook's owner (weftd's mesh controller) needs no protobuf.
struct NodeInfo {
  std::string id;
  std::string cluster;
  std::string metadata_json;  // node.metadata (a google.protobuf.Struct) as JSON; "{}" if none
  std::string locality;       // "region/zone/sub_zone" ("" when all three are empty)
  // node.user_agent_name: "envoy", "weft-proxy", or a gRPC library's ("gRPC C-core linux",
  // "gRPC Node Pure JS", ...), which marks a proxyless client.
  std::string user_agent_name;
  // node.user_agent_build_version.version as "MAJOR.MINOR.PATCH"; "" when the node sent none.
  std::string user_agent_version;
};

// Who a stream is: the service account a bearer token names, or the one a node claims in its
// metadata (NAMESPACE, SERVICE_ACCOUNT; service_account "" when it claims none).
struct StreamIdentity {
  std::string ns;
  std::string service_account;
};

class AdsServer {
 public:
  // The token of `authorization: Bearer <token>` -> its service account, or why it is refused.
  using TokenVerifier = std::function<absl::StatusOr<StreamIdentity>(const std::string& token)>;
  // What the node's first request claims (the namespace the translator will serve it).
  using NodeClaim = std::function<StreamIdentity(const NodeInfo& node)>;

  // Run on the stream's gRPC thread: keep them short (post the work elsewhere).
  using StreamOpenedHook = std::function<void(const NodeInfo& node)>;
  using StreamClosedHook = std::function<void(const std::string& node_id)>;

  explicit AdsServer(SnapshotCache& cache);
  ~AdsServer();  // Shutdown()

  // Before Start(): how long a stream waits after a snapshot change before pushing, so a burst
  // of changes (several applies in a row) becomes one push of the last state; 0, the default,
  // pushes at once. weftd leaves it at 0 and debounces its rebuilds instead (mesh_controller.h).
  void SetPushDebounce(std::chrono::milliseconds debounce);

  // Before Start(): called when a stream of a node opens (after its watch on the cache is in
  // place, before its first request is answered, so a snapshot set in reaction is what the
  // node receives first) and when it closes. Each stream gets one call of each.
  void SetStreamHooks(StreamOpenedHook on_opened, StreamClosedHook on_closed);

  // Before Start(): a second, TLS, port (Istio's 15012) that serves ADS and `extra_services`
  // (weftd's CA) with this certificate; the plaintext port keeps serving ADS alone. The
  // services must outlive the server.
  void AddTlsPort(std::string address, std::string cert_chain_pem, std::string private_key_pem,
                  std::vector<grpc::Service*> extra_services);

  // Before Start(): how streams of the TLS port that carry `authorization: Bearer <token>`
  // metadata are authenticated (Istio's pilot/pkg/xds/authentication.go: authenticate, then
  // authorize by checkConnectionIdentity). A token that does not verify ends the stream with
  // UNAUTHENTICATED; a node whose claimed namespace (or service account, when it claims one)
  // differs from the token's ends with PERMISSION_DENIED. Both are logged and counted
  // (PrometheusText). Only an authenticated stream is served Secrets (tls.v3.Secret), and only
  // those of the token's namespace; every other type is served alike on both ports.
  void SetAuthentication(TokenVerifier verify, NodeClaim claim);

  // pilot_xds_auth_failures{reason="authentication"|"authorization"} in Prometheus text.
  std::string PrometheusText() const;

  // Listens on "host:port" (port 0: any; see port()), and on the TLS port if one was added, and
  // serves until Shutdown().
  absl::Status Start(const std::string& address);
  int port() const;
  int tls_port() const;  // 0 without a TLS port
  // Ends every stream (clients see UNAVAILABLE and reconnect) and stops listening.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::control::xds
