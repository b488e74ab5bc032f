// Upstream HTTP connection pool: one per worker per host and upstream protocol. Requests get a
// connection with room for another stream or a new one. HTTP/1.1 carries one request at a time
// per connection (reused when both the request and its response are complete and the upstream
// allows keep-alive), so a busy pool opens more connections rather than queueing behind one.
// HTTP/2 multiplexes: a connection takes streams up to the lower of our max_concurrent_streams
// and the peer's SETTINGS before a second one opens; after the peer's GOAWAY it takes none (its
// streams in flight finish) and new requests go to a new connection.
//
// Not thread-safe: owned by one worker.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "event/dispatcher.h"
#include "http/header_map.h"
#include "network/connection.h"
#include "proxy/cluster_manager/cluster_stats.h"
#include "proxy/cluster_manager/host_stats.h"
#include "proxy/cluster_manager/upstream_transport.h"
#include "proxy/codec/codec.h"
#include "proxy/health/host_outcome.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"

namespace weft::cluster {

enum class PoolFailureReason { kConnectionFailure, kTimeout, kOverflow };

class ConnPoolCallbacks {
 public:
  virtual ~ConnPoolCallbacks() = default;
  // `encoder` sends the request; the response arrives on the decoder given to NewStream().
  virtual void OnPoolReady(http::StreamEncoder& encoder, const network::Connection& connection) = 0;
  virtual void OnPoolFailure(PoolFailureReason reason, std::string_view details) = 0;
};

// A request waiting for a connection; Cancel() withdraws it.
class PendingRequest {
 public:
  virtual ~PendingRequest() = default;
  virtual void Cancel() = 0;
};

class HttpConnPool {
 public:
  HttpConnPool(event::Dispatcher& dispatcher, const upstream::ClusterConfig& cluster,
               upstream::HostConstSharedPtr host, ClusterStats& stats, HostStats host_stats,
               UpstreamTransport transport = {},
               http::Protocol protocol = http::Protocol::kHttp11);
  ~HttpConnPool();

  // Either calls callbacks.OnPoolReady() / OnPoolFailure() before returning (and returns
  // nullptr), or returns a handle and calls one of them later.
  PendingRequest* NewStream(http::StreamDecoder& response_decoder, ConnPoolCallbacks& callbacks);

  const upstream::Host& host() const { return *host_; }
  HostStats& host_stats() { return host_stats_; }
  size_t total_connections() const { return clients_.size(); }
  http::Protocol protocol() const { return protocol_; }
  // Closes idle connections (drain, or the host left the cluster).
  void CloseIdle();

  // Outlier detection: from now on, results of this host are recorded here, and `on_threshold`
  // is called when one of this worker's consecutive-failure counts reaches its threshold.
  void EnableOutlierReporting(std::unique_ptr<health::HostOutcomeRecorder> recorder,
                              std::function<void(health::EjectionType)> on_threshold);
  // A no-op unless EnableOutlierReporting() was called.
  void ReportResult(const health::HostResult& result) {
    if (outcomes_) RecordOutcome(result);
  }

 private:
  class ActiveClient;
  struct Pending;
  friend class ActiveClient;

  // Starts a connection to the host (a new ActiveClient); false, with `error`, if it cannot.
  bool OpenConnection(std::string* error);
  // Whether the cluster's max_connections lets this pool open another (counts overflow if not).
  bool MayOpenConnection();
  void Attach(ActiveClient& client, http::StreamDecoder& decoder, ConnPoolCallbacks& callbacks);
  void OnClientReady(ActiveClient& client);
  void OnClientClosed(ActiveClient& client, bool connect_failed, bool timed_out);
  void ServePending();
  void RecordOutcome(const health::HostResult& result);
  // Streams the connections still connecting will be able to take.
  size_t ConnectingCapacity() const;

  event::Dispatcher& dispatcher_;
  const upstream::ClusterConfig& cluster_;
  upstream::HostConstSharedPtr host_;
  ClusterStats& stats_;
  UpstreamTransport transport_;
  HostStats host_stats_;
  const http::Protocol protocol_;
  // HTTP/2: streams a new connection is expected to take, from the last SETTINGS seen (a
  // connection still connecting is counted with this).
  size_t expected_streams_per_connection_;
  std::list<std::unique_ptr<ActiveClient>> clients_;
  std::list<std::unique_ptr<Pending>> pending_;
  std::unique_ptr<health::HostOutcomeRecorder> outcomes_;
  std::function<void(health::EjectionType)> on_outlier_threshold_;
};

}  // namespace weft::cluster
