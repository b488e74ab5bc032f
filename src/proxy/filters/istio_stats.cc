#include "proxy/filters/istio_stats.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "http/grpc.h"
#include "http/header_map.h"
#include "proxy/filters/istio_series_cache.h"
#include "proxy/stats/stats.h"

namespace weft::filters::istio {
namespace {

// The process's own workload and what is derived from it once: the principal and the two
// header values every request sends.
struct Local {
  WorkloadMetadata workload;
  std::string principal;       // "" when NAMESPACE or SERVICE_ACCOUNT is missing
  std::string header_id;       // x-envoy-peer-metadata-id
  std::string header_struct;   // x-envoy-peer-metadata
  std::string exchange_frame;  // the istio-peer-exchange frame (TCP)
  uint64_t generation = 0;     // bumped by each SetLocalWorkload
};

Local& LocalState() {
  static Local local;
  return local;
}

constexpr std::string_view kUnknown = "unknown";

std::string OrUnknown(std::string_view s) { return std::string(s.empty() ? kUnknown : s); }

// "host:port" or "[v6]:port" -> host.
std::string_view HostWithoutPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  const size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

// Istio's cluster names: "outbound|<port>|<subset>|<host>", "inbound|<port>|<subset>|<host>"
// (pilot/pkg/model/service.go BuildSubsetKey). The host, or "" for any other name.
std::string_view HostFromClusterName(std::string_view cluster) {
  if (cluster.substr(0, 9) != "outbound|" && cluster.substr(0, 8) != "inbound|") return {};
  const size_t last = cluster.rfind('|');
  return cluster.substr(last + 1);
}

std::string_view FirstLabel(std::string_view host, size_t index) {
  for (size_t i = 0; i < index; ++i) {
    const size_t dot = host.find('.');
    if (dot == std::string_view::npos) return {};
    host.remove_prefix(dot + 1);
  }
  return host.substr(0, host.find('.'));
}

class IstioStatsFilter : public StreamFilter {
 public:
  IstioStatsFilter(FilterCallbacks& callbacks, const IstioStatsConfig& config, const std::string&)
      : callbacks_(callbacks), config_(config) {}

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool) override {
    decoded_ = true;
    authority_ = std::string(headers.GetOr(":authority"));
    grpc_ = http::IsGrpcRequest(headers);
    const Local& local = LocalState();
    if (config_.reports_as_destination()) {
      ReadPeer(headers, /*remove=*/true);
    } else {
      // Ours go upstream whatever the application put there.
      headers.Set(kPeerMetadataIdHeader, local.header_id);
      headers.Set(kPeerMetadataHeader, local.header_struct);
    }
    return FilterStatus::kContinue;
  }

  void EncodeHeaders(http::HeaderMap& headers, bool) override {
    if (config_.reports_as_destination()) {
      const Local& local = LocalState();
      headers.Set(kPeerMetadataIdHeader, local.header_id);
      headers.Set(kPeerMetadataHeader, local.header_struct);
    } else {
      ReadPeer(headers, /*remove=*/true);
    }
  }

  void OnDestroy() override {
    const access_log::StreamInfo& info = callbacks_.info();
    // A filter before this one answered (RBAC, jwt_authn): the request still counts, with what
    // its headers say.
    if (!decoded_ && info.request_headers != nullptr) {
      authority_ = std::string(info.request_headers->GetOr(":authority"));
      grpc_ = http::IsGrpcRequest(*info.request_headers);
      if (config_.reports_as_destination()) ReadPeer(*info.request_headers, /*remove=*/false);
    }
    RequestFacts facts;
    facts.peer = peer_;
    facts.authority = authority_;
    facts.upstream_cluster = info.upstream_cluster;
    facts.grpc = grpc_;
    if (grpc_) facts.grpc_status = GrpcStatus(info);
    facts.response_code = info.response_code;
    facts.response_flags = info.response_flags;
    facts.downstream_mtls = info.downstream_tls && !info.downstream_peer_uri_san.empty();
    facts.downstream_peer_uri_san = info.downstream_peer_uri_san;
    facts.upstream_peer_uri_san = info.upstream_peer_uri_san;
    facts.upstream_local_uri_san = info.upstream_local_uri_san;
    const HttpSeries series = SeriesCache::Of(callbacks_.stats()).Http(config_, facts);
    series.requests->Inc();
    const auto elapsed = callbacks_.dispatcher().Now() - info.start_monotonic;
    series.duration->Record(std::chrono::duration<double, std::milli>(elapsed).count());
    series.request_bytes->Record(static_cast<double>(info.bytes_received));
    series.response_bytes->Record(static_cast<double>(info.bytes_sent));
  }

 private:
  // The peer's node id (x-envoy-peer-metadata-id) is no label, so only the Struct is read.
  void ReadPeer(http::HeaderMap& headers, bool remove) {
    ReadPeer(static_cast<const http::HeaderMap&>(headers), remove);
    if (remove) {
      headers.Remove(kPeerMetadataHeader);
      headers.Remove(kPeerMetadataIdHeader);
    }
  }
  void ReadPeer(const http::HeaderMap& headers, bool) {
    if (const std::string* value = headers.Get(kPeerMetadataHeader)) {
      peer_ = SeriesCache::Of(callbacks_.stats()).Peer(*value, overflow_peer_);
    }
  }
  static std::string_view GrpcStatus(const access_log::StreamInfo& info) {
    // Trailers normally; a trailers-only response carries it in its headers.
    if (info.response_trailers != nullptr) {
      if (const std::string* s = info.response_trailers->Get("grpc-status")) return *s;
    }
    if (info.response_headers != nullptr) {
      if (const std::string* s = info.response_headers->Get("grpc-status")) return *s;
    }
    return {};
  }

  FilterCallbacks& callbacks_;
  const IstioStatsConfig& config_;
  bool decoded_ = false;
  bool grpc_ = false;
  std::string authority_;
  const WorkloadMetadata* peer_ = nullptr;         // interned by the worker's SeriesCache
  std::optional<WorkloadMetadata> overflow_peer_;  // past the cache's peer cap
};

}  // namespace

void SetLocalWorkload(WorkloadMetadata workload, std::string trust_domain) {
  Local& local = LocalState();
  local.principal = workload.namespace_.empty() || workload.service_account.empty()
                        ? std::string()
                        : absl::StrCat("spiffe://", trust_domain, "/ns/", workload.namespace_,
                                       "/sa/", workload.service_account);
  local.header_id = workload.node_id;
  local.header_struct = EncodePeerHeader(workload);
  local.exchange_frame = EncodeMxFrame(workload);
  local.workload = std::move(workload);
  ++local.generation;
}

const WorkloadMetadata& LocalWorkload() { return LocalState().workload; }

const std::string& LocalExchangeFrame() { return LocalState().exchange_frame; }

uint64_t LocalWorkloadGeneration() { return LocalState().generation; }

std::string_view DestinationServiceHost(const IstioStatsConfig& config, const RequestFacts& facts) {
  std::string_view service = HostFromClusterName(facts.upstream_cluster);
  if (service.empty() && !config.disable_host_header_fallback) {
    service = HostWithoutPort(facts.authority);
  }
  return service;
}

RequestLabels ComputeRequestLabels(const IstioStatsConfig& config, const WorkloadMetadata& local,
                                   std::string_view local_principal, const RequestFacts& facts) {
  const bool inbound = config.reports_as_destination();
  static const WorkloadMetadata kNobody;
  const WorkloadMetadata& source = inbound ? (facts.peer ? *facts.peer : kNobody) : local;
  const WorkloadMetadata& destination = inbound ? local : (facts.peer ? *facts.peer : kNobody);
  const bool source_known = !inbound || facts.peer != nullptr;
  const bool destination_known = inbound || facts.peer != nullptr;

  RequestLabels l;
  l.reporter = inbound ? "destination" : "source";
  l.source_workload = OrUnknown(source.workload_name);
  l.source_canonical_service = source_known ? OrUnknown(source.CanonicalService()) : "unknown";
  l.source_canonical_revision = source_known ? source.CanonicalRevision() : "unknown";
  l.source_workload_namespace = OrUnknown(source.namespace_);
  l.source_app = OrUnknown(source.Label("app"));
  l.source_version = OrUnknown(source.Label("version"));
  l.source_cluster = OrUnknown(source.cluster_id);
  l.destination_workload = OrUnknown(destination.workload_name);
  l.destination_workload_namespace = OrUnknown(destination.namespace_);
  l.destination_app = OrUnknown(destination.Label("app"));
  l.destination_version = OrUnknown(destination.Label("version"));
  l.destination_canonical_service =
      destination_known ? OrUnknown(destination.CanonicalService()) : "unknown";
  l.destination_canonical_revision =
      destination_known ? destination.CanonicalRevision() : "unknown";
  l.destination_cluster = OrUnknown(destination.cluster_id);

  // The principals are what the certificates proved. Inbound: the client's verified URI SAN
  // (Istio keeps the "spiffe://"), and ours only when we presented it (mTLS). Outbound: the
  // upstream connection's, as Istio's client side takes them (istio/proxy
  // source/extensions/filters/http/istio_stats/istio_stats.cc, populatePeerInfo, ClientSidecar:
  // peer_san = uriSanPeerCertificate()[0], local_san = uriSanLocalCertificate()[0], each
  // "unknown" when empty): a plaintext upstream has both unknown.
  if (inbound) {
    l.source_principal =
        facts.downstream_mtls ? OrUnknown(facts.downstream_peer_uri_san) : std::string(kUnknown);
    l.destination_principal =
        facts.downstream_mtls ? OrUnknown(local_principal) : std::string(kUnknown);
    l.connection_security_policy = facts.downstream_mtls ? "mutual_tls" : "none";
  } else {
    l.source_principal = OrUnknown(facts.upstream_local_uri_san);
    l.destination_principal = OrUnknown(facts.upstream_peer_uri_san);
    l.connection_security_policy = "unknown";  // the client side does not report it (Istio)
  }

  // The destination service: the Istio cluster's host, else the request's host.
  const std::string_view service = DestinationServiceHost(config, facts);
  l.destination_service = OrUnknown(service);
  // "<name>.<namespace>.svc..." names both; a short name is the service in the destination's
  // namespace.
  if (const std::string_view ns = FirstLabel(service, 1);
      !ns.empty() && FirstLabel(service, 2) == "svc") {
    l.destination_service_name = std::string(FirstLabel(service, 0));
    l.destination_service_namespace = std::string(ns);
  } else {
    l.destination_service_name = OrUnknown(service);
    l.destination_service_namespace = OrUnknown(destination.namespace_);
  }

  l.request_protocol = facts.grpc ? "grpc" : "http";
  l.response_code = std::to_string(facts.response_code.value_or(0));
  l.grpc_response_status = std::string(facts.grpc_status);
  access_log::AppendResponseFlags(facts.response_flags, l.response_flags);
  return l;
}

namespace {

RequestLabels Labels(const IstioStatsConfig& config, const RequestFacts& facts) {
  const Local& local = LocalState();
  return ComputeRequestLabels(config, local.workload, local.principal, facts);
}

// The labels rendered once; each metric's series name is "<metric>" + them.
class SeriesNames {
 public:
  SeriesNames(const RequestLabels& labels, bool tcp)
      : name_(SeriesName("", labels, tcp)), labels_size_(name_.size()) {}
  const std::string& operator()(std::string_view metric) {
    name_.replace(0, name_.size() - labels_size_, metric);
    return name_;
  }

 private:
  std::string name_;
  size_t labels_size_;
};

}  // namespace

HttpSeries ResolveHttpSeries(stats::Store& store, const IstioStatsConfig& config,
                             const RequestFacts& facts) {
  SeriesNames series(Labels(config, facts), /*tcp=*/false);
  HttpSeries out;
  out.requests = &store.counter(series("istio_requests_total"));
  out.duration = &store.histogram(series("istio_request_duration_milliseconds"));
  out.request_bytes = &store.histogram(series("istio_request_bytes"));
  out.response_bytes = &store.histogram(series("istio_response_bytes"));
  return out;
}

RequestFacts TcpFacts(const access_log::StreamInfo& info, const WorkloadMetadata* peer) {
  RequestFacts facts;
  facts.peer = peer;
  facts.upstream_cluster = info.upstream_cluster;
  facts.response_flags = info.response_flags;
  facts.downstream_mtls = info.downstream_tls && !info.downstream_peer_uri_san.empty();
  facts.downstream_peer_uri_san = info.downstream_peer_uri_san;
  facts.upstream_peer_uri_san = info.upstream_peer_uri_san;
  facts.upstream_local_uri_san = info.upstream_local_uri_san;
  return facts;
}

TcpSeries ResolveTcpSeries(stats::Store& store, const IstioStatsConfig& config,
                           const RequestFacts& facts) {
  RequestLabels labels = Labels(config, facts);
  labels.request_protocol = "tcp";
  SeriesNames series(labels, /*tcp=*/true);
  TcpSeries out;
  out.opened = &store.counter(series("istio_tcp_connections_opened_total"));
  out.closed = &store.counter(series("istio_tcp_connections_closed_total"));
  out.received_bytes = &store.counter(series("istio_tcp_received_bytes_total"));
  out.sent_bytes = &store.counter(series("istio_tcp_sent_bytes_total"));
  return out;
}

void RecordTcpOpened(const IstioStatsConfig& config, stats::Store& store,
                     const access_log::StreamInfo& info, const WorkloadMetadata* peer) {
  SeriesCache::Of(store).Tcp(config, TcpFacts(info, peer)).opened->Inc();
}

void RecordTcpClosed(const IstioStatsConfig& config, stats::Store& store,
                     const access_log::StreamInfo& info, uint64_t received, uint64_t sent,
                     const WorkloadMetadata* peer) {
  const TcpSeries series = SeriesCache::Of(store).Tcp(config, TcpFacts(info, peer));
  series.closed->Inc();
  series.received_bytes->Inc(received);
  series.sent_bytes->Inc(sent);
}

std::string SeriesName(std::string_view metric, const RequestLabels& l, bool tcp) {
  const std::pair<std::string_view, const std::string*> labels[] = {
      {"reporter", &l.reporter},
      {"source_workload", &l.source_workload},
      {"source_canonical_service", &l.source_canonical_service},
      {"source_canonical_revision", &l.source_canonical_revision},
      {"source_workload_namespace", &l.source_workload_namespace},
      {"source_principal", &l.source_principal},
      {"source_app", &l.source_app},
      {"source_version", &l.source_version},
      {"source_cluster", &l.source_cluster},
      {"destination_workload", &l.destination_workload},
      {"destination_workload_namespace", &l.destination_workload_namespace},
      {"destination_principal", &l.destination_principal},
      {"destination_app", &l.destination_app},
      {"destination_version", &l.destination_version},
      {"destination_service", &l.destination_service},
      {"destination_canonical_service", &l.destination_canonical_service},
      {"destination_canonical_revision", &l.destination_canonical_revision},
      {"destination_service_name", &l.destination_service_name},
      {"destination_service_namespace", &l.destination_service_namespace},
      {"destination_cluster", &l.destination_cluster},
      {"request_protocol", &l.request_protocol},
      {"response_code", &l.response_code},
      {"grpc_response_status", &l.grpc_response_status},
      {"response_flags", &l.response_flags},
      {"connection_security_policy", &l.connection_security_policy},
  };
  std::string out;
  out.reserve(1024);
  out.append(metric);
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (tcp && (value == &l.response_code || value == &l.grpc_response_status)) continue;
    if (!first) out += ',';
    first = false;
    out.append(name);
    out += "=\"";
    stats::AppendPrometheusLabelValue(out, *value);
    out += '"';
  }
  out += '}';
  return out;
}

std::unique_ptr<FilterFactory> CreateIstioStatsFilterFactory(
    std::string name, std::shared_ptr<const IstioStatsConfig> config) {
  return std::make_unique<TypedFilterFactory<IstioStatsFilter, IstioStatsConfig>>(
      std::move(name), std::move(config));
}

}  // namespace weft::filters::istio
