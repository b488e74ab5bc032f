// weftd's xDS server: envoy.service.discovery.v3.AggregatedDiscoveryService over Debian's grpc++,
// both StreamAggregatedResources (state of the world) and DeltaAggregatedResources (incremental),
// serving what a SnapshotCache holds per node.
//
// Threads: the synchronous gRPC API, so each open stream holds two threads of gRPC's pool (one
// blocked reading requests, one answering them and pushing snapshot changes). Simple and right
// for hundreds of proxies; the 1000-proxy load test is expected to move this to the callback API.
//
// gRPC and protobuf stay behind this header (pimpl). Start/Shutdown from one thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "control/xds/snapshot_cache.h"

namespace weft::control::xds {

class AdsServer {
 public:
  explicit AdsServer(SnapshotCache& cache);
  ~AdsServer();  // Shutdown()

  // Listens on "host:port" (port 0: any; see port()) and serves until Shutdown().
  absl::Status Start(const std::string& address);
  int port() const;
  // Ends every stream (clients see UNAVAILABLE and reconnect) and stops listening.
  void Shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::control::xds
