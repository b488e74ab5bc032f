// The per-worker shortcut that makes istio.stats cheap per request.
//
// Without it each request renders its ~1 KB series name (25 labels) and looks it up four times
// in the worker's stats::Store (a mutex and an ordered map of kilobyte strings each time). But
// half of the labels come from this proxy (fixed for the process), and the rest are a function
// of a few facts: the peer, the destination service host, the response code and flags, the
// protocol (gRPC status), and the downstream certificate. So the cache maps those facts,
// compactly, to the four resolved metric pointers: the common case is one hash lookup and no
// string built. A miss takes the slow path (ResolveHttpSeries) and remembers its result.
//
// The peer headers are interned the same way: a client sidecar sends the same
// x-envoy-peer-metadata value on every request, so it is decoded once per worker, and the
// interned WorkloadMetadata's address is the peer's part of the key.
//
// Bounded: Istio and Envoy keep every series a mesh produces, and so does the store; the cache
// is only an index into it, capped at `capacity` series and `peer_capacity` peers. Past a cap,
// requests still record into exactly the same series through the slow path, and the overflow
// is counted in the counter "istio_stats.series_cache_overflow" (created on the first one).
//
// One cache per stats::Store (Store::Attachment), used only by the store's worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "proxy/filters/istio_stats.h"
#include "proxy/stats/stats.h"

namespace weft::filters::istio {

class SeriesCache : public stats::StoreAttachment {
 public:
  static constexpr size_t kDefaultCapacity = 4096;
  static constexpr size_t kDefaultPeerCapacity = 1024;
  static constexpr std::string_view kOverflowCounter = "istio_stats.series_cache_overflow";

  explicit SeriesCache(stats::Store& store, size_t capacity = kDefaultCapacity,
                       size_t peer_capacity = kDefaultPeerCapacity);

  // The worker's cache for `store`.
  static SeriesCache& Of(stats::Store& store) { return store.Attachment<SeriesCache>(); }

  HttpSeries Http(const IstioStatsConfig& config, const RequestFacts& facts);
  TcpSeries Tcp(const IstioStatsConfig& config, const RequestFacts& facts);

  // The peer an x-envoy-peer-metadata value describes, or nullptr when it is not a Struct. The
  // result is interned (valid as long as the cache); past the peer cap it is decoded into
  // `overflow` and points there.
  const WorkloadMetadata* Peer(std::string_view header_value,
                               std::optional<WorkloadMetadata>& overflow);
  // The same for a peer the TCP metadata exchange decoded (MxRead): interned by its node
  // metadata Struct's bytes, which cannot be mistaken for a header value (those are base64).
  const WorkloadMetadata* PeerFromExchange(std::string_view struct_bytes, WorkloadMetadata peer,
                                           std::optional<WorkloadMetadata>& overflow);

  size_t size() const { return series_.size(); }
  size_t peers() const { return peers_.size(); }

 private:
  // What the labels depend on besides the local workload (which SetLocalWorkload fixes).
  // Views into the request for a lookup; the stored key owns copies.
  struct KeyView {
    const WorkloadMetadata* peer;  // interned, or nullptr: unknown
    uint64_t response_flags;
    uint32_t response_code;
    bool inbound, tcp, grpc, downstream_mtls;
    std::string_view service, grpc_status, downstream_peer_uri_san, upstream_peer_uri_san,
        upstream_local_uri_san;

    bool operator==(const KeyView&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const KeyView& k) {
      // Debian's absl::string_view is not std::string_view.
      auto view = [](std::string_view s) { return absl::string_view(s.data(), s.size()); };
      return H::combine(std::move(h), k.peer, k.response_flags, k.response_code, k.inbound, k.tcp,
                        k.grpc, k.downstream_mtls, view(k.service), view(k.grpc_status),
                        view(k.downstream_peer_uri_san), view(k.upstream_peer_uri_san),
                        view(k.upstream_local_uri_san));
    }
  };
  struct Key {
    explicit Key(const KeyView& v);
    KeyView View() const;
    KeyView fixed;  // the non-string part; its views are not used
    std::string service, grpc_status, downstream_peer_uri_san, upstream_peer_uri_san,
        upstream_local_uri_san;
  };
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(const KeyView& k) const { return absl::Hash<KeyView>{}(k); }
    size_t operator()(const Key& k) const { return (*this)(k.View()); }
  };
  struct KeyEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return ViewOf(a) == ViewOf(b);
    }
    static KeyView ViewOf(const KeyView& k) { return k; }
    static KeyView ViewOf(const Key& k) { return k.View(); }
  };
  struct Entry {
    HttpSeries http;
    TcpSeries tcp;
  };

  // nullopt when the facts cannot be a key (a peer this cache did not intern).
  std::optional<KeyView> MakeKey(const IstioStatsConfig& config, const RequestFacts& facts,
                                 bool tcp);
  // Empties the series when the local workload changed since they were built.
  void CheckGeneration();
  void CountOverflow();
  // Remembers `peer` under `key` unless past the peer cap (then it goes to `overflow`).
  const WorkloadMetadata* Intern(std::string_view key, WorkloadMetadata peer,
                                 std::optional<WorkloadMetadata>& overflow);

  stats::Store& store_;
  const size_t capacity_;
  const size_t peer_capacity_;
  uint64_t generation_;
  stats::Counter* overflow_ = nullptr;
  absl::flat_hash_map<Key, Entry, KeyHash, KeyEq> series_;
  // x-envoy-peer-metadata value -> the decoded peer. unique_ptr: the address is the key.
  absl::flat_hash_map<std::string, std::unique_ptr<WorkloadMetadata>> peers_;
  absl::flat_hash_set<const WorkloadMetadata*> interned_;
};

}  // namespace weft::filters::istio
