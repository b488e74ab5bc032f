// Istio's standard metrics (istio.io/latest/docs/reference/config/metrics): the `istio.stats`
// HTTP filter. One sidecar reports every request twice over the mesh: the client's sidecar as
// reporter="source" (its outbound listener), the server's as reporter="destination" (inbound).
//
// Per request: istio_requests_total (counter), istio_request_duration_milliseconds,
// istio_request_bytes and istio_response_bytes (histograms with Envoy's default buckets, which
// are Istio's), each with Istio's labels. The series live in the worker's stats::Store under
// their Prometheus name, labels included ("istio_requests_total{reporter=\"source\",...}"), and
// /stats/prometheus prints them as they are, not as dotted Envoy names.
//
// Where the labels come from:
//   - this sidecar's own workload: the node metadata (SetLocalWorkload, once at startup);
//   - the peer's workload: the x-envoy-peer-metadata headers (istio_peer_metadata.h): the
//     outbound filter adds ours to the request and reads the server's from the response; the
//     inbound filter reads the client's from the request and adds ours to the response; both
//     remove what they read;
//   - the identities: inbound, the downstream's verified certificate (source_principal, and
//     connection_security_policy "mutual_tls" / "none"); outbound, the upstream connection's
//     certificates (destination_principal the server's URI SAN, source_principal our own's;
//     connection_security_policy "unknown", as Istio's client side reports it);
//   - the destination service: an Istio cluster name (outbound|port|subset|host), else the
//     request's host (unless disable_host_header_fallback).
//
// Not thread-safe: a filter lives on its stream's worker. The local workload is written once
// before any worker starts and only read afterwards.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy/filters/filter.h"
#include "proxy/filters/istio_peer_metadata.h"

namespace weft::filters::istio {

// Envoy's Listener.traffic_direction (config/core/v3/base.proto TrafficDirection).
enum class TrafficDirection { kUnspecified, kInbound, kOutbound };

struct IstioStatsConfig {
  // Istio decides the reporter from the listener's direction: INBOUND reports as "destination",
  // anything else as "source".
  TrafficDirection direction = TrafficDirection::kUnspecified;
  bool disable_host_header_fallback = false;  // stats.PluginConfig field
  bool reports_as_destination() const { return direction == TrafficDirection::kInbound; }
};

// This proxy's workload and trust domain (for its own principal
// spiffe://<trust_domain>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>). Call before workers start.
void SetLocalWorkload(WorkloadMetadata workload, std::string trust_domain);
const WorkloadMetadata& LocalWorkload();
// This proxy's TCP metadata exchange frame (EncodeMxFrame of the local workload), built once.
const std::string& LocalExchangeFrame();

// Istio's request labels, in Istio's order.
struct RequestLabels {
  std::string reporter;
  std::string source_workload, source_canonical_service, source_canonical_revision,
      source_workload_namespace, source_principal, source_app, source_version, source_cluster;
  std::string destination_workload, destination_workload_namespace, destination_principal,
      destination_app, destination_version, destination_service, destination_canonical_service,
      destination_canonical_revision, destination_service_name, destination_service_namespace,
      destination_cluster;
  std::string request_protocol, response_code, grpc_response_status, response_flags,
      connection_security_policy;
};

// What a finished request looked like, for the labels.
struct RequestFacts {
  const WorkloadMetadata* peer = nullptr;  // from the exchanged headers, if any
  std::string_view authority;              // the request's host, port included
  std::string_view upstream_cluster;
  bool grpc = false;
  std::string_view grpc_status;  // "" unless gRPC
  std::optional<uint32_t> response_code;
  uint64_t response_flags = 0;
  bool downstream_mtls = false;
  std::string_view downstream_peer_uri_san;
  // The upstream connection's TLS (reporter="source"): the server certificate's URI SAN and the
  // one of the certificate this proxy presented; both "" for plaintext.
  std::string_view upstream_peer_uri_san;
  std::string_view upstream_local_uri_san;
};

RequestLabels ComputeRequestLabels(const IstioStatsConfig& config, const WorkloadMetadata& local,
                                   std::string_view local_principal, const RequestFacts& facts);

// The host the destination_service labels come from: the Istio cluster's, else the request's
// (unless disable_host_header_fallback); "" when neither.
std::string_view DestinationServiceHost(const IstioStatsConfig& config, const RequestFacts& facts);

// Bumped by each SetLocalWorkload: what a cache of series built from the local workload checks.
uint64_t LocalWorkloadGeneration();

// The series one request or TCP connection records into, resolved in a store.
struct HttpSeries {
  stats::Counter* requests = nullptr;
  stats::Histogram* duration = nullptr;
  stats::Histogram* request_bytes = nullptr;
  stats::Histogram* response_bytes = nullptr;
};
struct TcpSeries {
  stats::Counter* opened = nullptr;
  stats::Counter* closed = nullptr;
  stats::Counter* received_bytes = nullptr;
  stats::Counter* sent_bytes = nullptr;
};

// The slow path: the labels computed, the series names built, four lookups in the store. The
// per-worker SeriesCache (istio_series_cache.h) calls it on a miss.
HttpSeries ResolveHttpSeries(stats::Store& store, const IstioStatsConfig& config,
                             const RequestFacts& facts);
// `facts` as TcpFacts gives them.
TcpSeries ResolveTcpSeries(stats::Store& store, const IstioStatsConfig& config,
                           const RequestFacts& facts);
// A TCP connection's facts: no HTTP; the peer is what the TCP metadata exchange read (an
// interned SeriesCache peer), or null: unknown.
RequestFacts TcpFacts(const access_log::StreamInfo& info, const WorkloadMetadata* peer = nullptr);

// `metric{label="value",...}`: the series name under which the store keeps it. TCP metrics
// have no response_code and grpc_response_status.
std::string SeriesName(std::string_view metric, const RequestLabels& labels, bool tcp = false);

// Istio's TCP metrics for one tcp_proxy connection (istio.stats as a network filter):
// istio_tcp_connections_opened_total when the connection starts carrying bytes, and at its close
// istio_tcp_connections_closed_total, istio_tcp_received_bytes_total (from downstream) and
// istio_tcp_sent_bytes_total (to downstream). The peer's workload comes from Istio's TCP
// metadata exchange (istio.metadata_exchange, ALPN istio-peer-exchange) when it took place,
// else it is "unknown".
void RecordTcpOpened(const IstioStatsConfig& config, stats::Store& store,
                     const access_log::StreamInfo& info, const WorkloadMetadata* peer = nullptr);
void RecordTcpClosed(const IstioStatsConfig& config, stats::Store& store,
                     const access_log::StreamInfo& info, uint64_t received, uint64_t sent,
                     const WorkloadMetadata* peer = nullptr);

std::unique_ptr<FilterFactory> CreateIstioStatsFilterFactory(
    std::string name, std::shared_ptr<const IstioStatsConfig> config);

}  // namespace weft::filters::istio
