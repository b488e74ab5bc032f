// What one HTTP request (or one TCP connection) did, as the access log and the header-value
// formatter read it. The connection manager / tcp_proxy fill it while the stream runs; the
// formatter only reads it. Plain data, no behaviour beyond the response-flag names.
//
// Thread-safety: a StreamInfo belongs to the worker that owns the stream; it is never shared.
// The header map pointers are borrowed: they must outlive any Format() call that reads them.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/transport_socket.h"

namespace weft::http {
class HeaderMap;
}

namespace weft::access_log {

// Envoy's response flags (envoy/stream_info/stream_info.h, "ResponseFlag"), in Envoy's order, which
// is also the order the formatter prints them in. Each bit's short name is Envoy's, so log
// pipelines written for Envoy parse ours unchanged.
enum ResponseFlag : uint64_t {
  kFailedLocalHealthCheck = 1ull << 0,             // LH
  kNoHealthyUpstream = 1ull << 1,                  // UH
  kUpstreamRequestTimeout = 1ull << 2,             // UT
  kLocalReset = 1ull << 3,                         // LR
  kUpstreamRemoteReset = 1ull << 4,                // UR
  kUpstreamConnectionFailure = 1ull << 5,          // UF
  kUpstreamConnectionTermination = 1ull << 6,      // UC
  kUpstreamOverflow = 1ull << 7,                   // UO
  kNoRouteFound = 1ull << 8,                       // NR
  kDelayInjected = 1ull << 9,                      // DI
  kFaultInjected = 1ull << 10,                     // FI
  kRateLimited = 1ull << 11,                       // RL
  kUnauthorizedExternalService = 1ull << 12,       // UAEX
  kRateLimitServiceError = 1ull << 13,             // RLSE
  kDownstreamConnectionTermination = 1ull << 14,   // DC
  kUpstreamRetryLimitExceeded = 1ull << 15,        // URX
  kStreamIdleTimeout = 1ull << 16,                 // SI
  kInvalidEnvoyRequestHeaders = 1ull << 17,        // IH
  kDownstreamProtocolError = 1ull << 18,           // DPE
  kUpstreamMaxStreamDurationReached = 1ull << 19,  // UMSDR
  kResponseFromCacheFilter = 1ull << 20,           // RFCF
  kNoFilterConfigFound = 1ull << 21,               // NFCF
  kDurationTimeout = 1ull << 22,                   // DT
  kUpstreamProtocolError = 1ull << 23,             // UPE
  kNoClusterFound = 1ull << 24,                    // NC
  kOverloadManager = 1ull << 25,                   // OM
  kDnsResolutionFailed = 1ull << 26,               // DF
  kDropOverload = 1ull << 27,                      // DO
  kDownstreamRemoteReset = 1ull << 28,             // DR
};
inline constexpr int kResponseFlagCount = 29;

// Envoy's short name of the flag at bit `index` (0 <= index < kResponseFlagCount).
std::string_view ResponseFlagShortName(int index);

// Appends the set flags' short names joined by ",", or "-" when none is set (Envoy's
// %RESPONSE_FLAGS%). Appends nothing for none when `dash_when_empty` is false.
void AppendResponseFlags(uint64_t flags, std::string& out, bool dash_when_empty = true);

struct StreamInfo {
  using Nanoseconds = std::chrono::nanoseconds;

  std::chrono::system_clock::time_point start_time{};       // %START_TIME%
  std::chrono::steady_clock::time_point start_monotonic{};  // base of the durations below
  std::string_view protocol;  // "HTTP/1.0", "HTTP/1.1", "HTTP/2"; empty for TCP

  const http::HeaderMap* request_headers = nullptr;
  const http::HeaderMap* response_headers = nullptr;
  const http::HeaderMap* response_trailers = nullptr;

  std::optional<uint32_t> response_code;
  uint64_t response_flags = 0;  // ResponseFlag bits
  uint64_t bytes_received = 0;  // body bytes from downstream
  uint64_t bytes_sent = 0;      // body bytes to downstream

  // Offsets from start_monotonic, as Envoy's StreamInfo keeps them.
  std::optional<Nanoseconds> last_downstream_rx_byte_received;  // %REQUEST_DURATION%
  std::optional<Nanoseconds> first_upstream_rx_byte_received;   // %RESPONSE_DURATION%
  std::optional<Nanoseconds> last_downstream_tx_byte_sent;      // response complete
  std::optional<Nanoseconds> request_complete;                  // %DURATION% (the whole stream)

  std::string upstream_host;           // "10.0.0.1:8080"
  std::string upstream_cluster;        // cluster name
  std::string upstream_local_address;  // "10.0.0.2:41000"
  std::string upstream_transport_failure_reason;
  std::string downstream_remote_address;         // after XFF / PROXY protocol
  std::string downstream_local_address;          // the listener-side address
  std::string downstream_direct_remote_address;  // the peer of the socket
  std::string route_name;
  std::string response_code_details;
  std::string local_reply_body;  // %LOCAL_REPLY_BODY%: the body of a local reply, before mapping
  std::string connection_termination_details;
  std::string_view requested_server_name;                          // SNI (a view, see below)
  std::string request_id;                                          // x-request-id
  std::optional<std::chrono::milliseconds> upstream_service_time;  // x-envoy-upstream-service-time

  // The downstream connection's TLS, when it has any: the client certificate's URI SAN (a
  // SPIFFE id, "spiffe://cluster.local/ns/default/sa/productpage"; empty without a verified
  // client certificate) is the peer's principal for RBAC and %DOWNSTREAM_PEER_URI_SAN%.
  // The views (and requested_server_name) point into downstream_security, the connection's own
  // SecurityInfo that every stream of a keep-alive connection shares: a request takes a
  // reference, not a copy of each string (two allocations per request with a SPIFFE SAN). Set
  // them through SetDownstreamSecurity (tests may point them at literals).
  std::shared_ptr<const network::SecurityInfo> downstream_security;
  bool downstream_tls = false;
  std::string_view downstream_peer_uri_san;
  std::string_view downstream_tls_version;   // %DOWNSTREAM_TLS_VERSION%: "TLSv1.3"
  std::string_view downstream_tls_cipher;    // %DOWNSTREAM_TLS_CIPHER%: "TLS_AES_128_GCM_SHA256"
  std::string_view downstream_peer_subject;  // %DOWNSTREAM_PEER_SUBJECT%: "CN=client" (RFC 2253)
  // The peer presented a certificate that verified (Istio's connection_security_policy
  // "mutual_tls" when set, else "none").
  bool downstream_peer_certificate = false;
  // The upstream connection's verified peer URI SAN (%UPSTREAM_PEER_URI_SAN%): the SPIFFE id
  // of the sidecar reached with mTLS; empty for plaintext. A view into upstream_security, the
  // upstream connection's SecurityInfo (kept here: the access log may outlive that connection).
  std::shared_ptr<const network::SecurityInfo> upstream_security;
  std::string_view upstream_peer_uri_san;
  // The URI SAN of the certificate this proxy holds on that connection (its own SPIFFE id).
  std::string_view upstream_local_uri_san;
  // Takes what the downstream connection's handshake learned (a no-op for plaintext).
  void SetDownstreamSecurity(std::shared_ptr<const network::SecurityInfo> security) {
    if (security == nullptr) return;
    downstream_tls = true;
    downstream_peer_uri_san = security->peer_uri_san;
    downstream_tls_version = security->tls_version;
    downstream_tls_cipher = security->cipher;
    downstream_peer_subject = security->peer_subject;
    downstream_peer_certificate = security->peer_certificate;
    if (requested_server_name.empty()) requested_server_name = security->sni;
    downstream_security = std::move(security);
  }
  // The same for the upstream connection the request was sent on (a no-op for plaintext).
  void SetUpstreamSecurity(std::shared_ptr<const network::SecurityInfo> security) {
    if (security == nullptr) return;
    upstream_peer_uri_san = security->peer_uri_san;
    upstream_local_uri_san = security->local_uri_san;
    upstream_security = std::move(security);
  }
  // Envoy's dynamic metadata: what one filter learns about the request for later ones and for
  // the access log, by filter namespace, then key, then value(s). The JWT filter writes the
  // verified token under "istio_authn" as Istio's authn filter names it
  // (request.auth.principal = "<iss>/<sub>", request.auth.audiences, request.auth.presenter,
  // request.auth.claims.<claim> for each top-level claim, a list claim as several values);
  // RBAC's metadata matchers read it. Empty (no allocation) for most requests.
  std::map<std::string, std::map<std::string, std::vector<std::string>>, std::less<>>
      dynamic_metadata;

  // Resets for reuse by the next stream on the same connection without freeing string capacity.
  void Reset();
};

}  // namespace weft::access_log
