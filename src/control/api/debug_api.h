// weftd's debug API: what each proxy was sent and what it answered, and the xDS resources weftd
// holds for it, read by `weftctl proxy-status` and `weftctl proxy-config`.
//
//   GET /debug/proxies                       {"weftd": {version, revision}, "proxies": [...]}
//   GET /debug/proxies/<node id>             one proxy: per type (CDS, EDS, LDS, RDS) its sync
//                                            state (xds/sync_status.h), sent/ACKed versions,
//                                            nonce, NACK error and counts; its namespace and IP;
//                                            the warnings of its translation
//   GET /debug/proxies/<node id>/config?type=clusters|endpoints|listeners|routes
//                                            the resources as Envoy-style JSON, sorted by name
//
// Node ids hold '~', '.' and may hold '/': they are percent-encoded in the path (the server
// decodes the path once; the id is what lies between "/debug/proxies/" and an optional trailing
// "/config"). An unknown node is a Kubernetes-style 404 (`proxies "<id>" not found`).
//
// Runs on weftd's dispatcher (like the resource API); the SnapshotCache is thread-safe and only
// read through GetSnapshot()/AllStatuses()/Status().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/api/http_server.h"
#include "control/xds/snapshot_cache.h"
#include "weft_version.h"

namespace weft::control {

inline constexpr const char* kWeftdVersion = weft::kVersion;

// What the mesh knows about a connected proxy beyond the cache's bookkeeping.
struct ProxyTranslation {
  std::string namespace_;
  std::string ip;
  std::vector<std::string> warnings;  // the translator's, for this proxy's last snapshot
  std::string user_agent;             // node.user_agent_name
  std::string version;                // node.user_agent_build_version ("" when absent)
};

class DebugApi {
 public:
  // `proxy_info` answers for proxies the mesh translates for (nullopt otherwise); `revision` is
  // the store's current revision. Both are called on the dispatcher's thread.
  using ProxyInfoFn = std::function<std::optional<ProxyTranslation>(const std::string& node_id)>;
  DebugApi(const xds::SnapshotCache& cache, ProxyInfoFn proxy_info,
           std::function<int64_t()> revision);

  // Whether the request is for this API (its path starts with /debug/).
  static bool Serves(const HttpRequest& request);
  void Handle(const HttpRequest& request, HttpExchange& exchange);

 private:
  void ListProxies(HttpExchange& exchange);
  void GetProxy(const std::string& node_id, HttpExchange& exchange);
  void GetConfig(const std::string& node_id, const HttpRequest& request, HttpExchange& exchange);
  bool Known(const std::string& node_id) const;

  const xds::SnapshotCache& cache_;
  ProxyInfoFn proxy_info_;
  std::function<int64_t()> revision_;
};

}  // namespace weft::control
