#include "proxy/filters/istio_series_cache.h"

namespace weft::filters::istio {

SeriesCache::SeriesCache(stats::Store& store, size_t capacity, size_t peer_capacity)
    : store_(store),
      capacity_(capacity),
      peer_capacity_(peer_capacity),
      generation_(LocalWorkloadGeneration()) {}

SeriesCache::Key::Key(const KeyView& v)
    : fixed(v),
      service(v.service),
      grpc_status(v.grpc_status),
      downstream_peer_uri_san(v.downstream_peer_uri_san),
      upstream_peer_uri_san(v.upstream_peer_uri_san),
      upstream_local_uri_san(v.upstream_local_uri_san) {
  // The views would point into the request; the owned strings replace them (View()).
  fixed.service = fixed.grpc_status = fixed.downstream_peer_uri_san = {};
  fixed.upstream_peer_uri_san = fixed.upstream_local_uri_san = {};
}

SeriesCache::KeyView SeriesCache::Key::View() const {
  KeyView v = fixed;
  v.service = service;
  v.grpc_status = grpc_status;
  v.downstream_peer_uri_san = downstream_peer_uri_san;
  v.upstream_peer_uri_san = upstream_peer_uri_san;
  v.upstream_local_uri_san = upstream_local_uri_san;
  return v;
}

std::optional<SeriesCache::KeyView> SeriesCache::MakeKey(const IstioStatsConfig& config,
                                                         const RequestFacts& facts, bool tcp) {
  if (facts.peer != nullptr && !interned_.contains(facts.peer)) return std::nullopt;
  // Exactly what ComputeRequestLabels reads, with the cluster name and authority reduced to the
  // one host it takes from them.
  KeyView k;
  k.peer = facts.peer;
  k.response_flags = facts.response_flags;
  k.response_code = facts.response_code.value_or(0);
  k.inbound = config.reports_as_destination();
  k.tcp = tcp;
  k.grpc = facts.grpc;
  k.downstream_mtls = facts.downstream_mtls;
  k.service = DestinationServiceHost(config, facts);
  k.grpc_status = facts.grpc_status;
  k.downstream_peer_uri_san = facts.downstream_peer_uri_san;
  k.upstream_peer_uri_san = facts.upstream_peer_uri_san;
  k.upstream_local_uri_san = facts.upstream_local_uri_san;
  return k;
}

void SeriesCache::CheckGeneration() {
  if (generation_ == LocalWorkloadGeneration()) return;
  generation_ = LocalWorkloadGeneration();
  series_.clear();
}

void SeriesCache::CountOverflow() {
  if (overflow_ == nullptr) overflow_ = &store_.counter(kOverflowCounter);
  overflow_->Inc();
}

HttpSeries SeriesCache::Http(const IstioStatsConfig& config, const RequestFacts& facts) {
  CheckGeneration();
  const std::optional<KeyView> key = MakeKey(config, facts, /*tcp=*/false);
  if (!key) return ResolveHttpSeries(store_, config, facts);
  if (auto it = series_.find(*key); it != series_.end()) return it->second.http;
  const HttpSeries series = ResolveHttpSeries(store_, config, facts);
  if (series_.size() >= capacity_) {
    CountOverflow();
  } else {
    series_.emplace(Key(*key), Entry{.http = series, .tcp = {}});
  }
  return series;
}

TcpSeries SeriesCache::Tcp(const IstioStatsConfig& config, const RequestFacts& facts) {
  CheckGeneration();
  const std::optional<KeyView> key = MakeKey(config, facts, /*tcp=*/true);
  if (!key) return ResolveTcpSeries(store_, config, facts);
  if (auto it = series_.find(*key); it != series_.end()) return it->second.tcp;
  const TcpSeries series = ResolveTcpSeries(store_, config, facts);
  if (series_.size() >= capacity_) {
    CountOverflow();
  } else {
    series_.emplace(Key(*key), Entry{.http = {}, .tcp = series});
  }
  return series;
}

const WorkloadMetadata* SeriesCache::Peer(std::string_view header_value,
                                          std::optional<WorkloadMetadata>& overflow) {
  const absl::string_view value(header_value.data(), header_value.size());
  if (auto it = peers_.find(value); it != peers_.end()) return it->second.get();
  std::optional<WorkloadMetadata> peer = DecodePeerHeader(header_value);
  if (!peer) return nullptr;  // not remembered: garbage must not fill the cache
  return Intern(header_value, std::move(*peer), overflow);
}

const WorkloadMetadata* SeriesCache::PeerFromExchange(std::string_view struct_bytes,
                                                      WorkloadMetadata peer,
                                                      std::optional<WorkloadMetadata>& overflow) {
  const absl::string_view key(struct_bytes.data(), struct_bytes.size());
  if (auto it = peers_.find(key); it != peers_.end()) return it->second.get();
  return Intern(struct_bytes, std::move(peer), overflow);
}

const WorkloadMetadata* SeriesCache::Intern(std::string_view key, WorkloadMetadata peer,
                                            std::optional<WorkloadMetadata>& overflow) {
  if (peers_.size() >= peer_capacity_) {
    CountOverflow();
    overflow = std::move(peer);
    return &*overflow;
  }
  auto owned = std::make_unique<WorkloadMetadata>(std::move(peer));
  const WorkloadMetadata* interned = owned.get();
  interned_.insert(interned);
  peers_.emplace(std::string(key), std::move(owned));
  return interned;
}

}  // namespace weft::filters::istio
