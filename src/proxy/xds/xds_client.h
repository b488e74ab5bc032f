// weft-proxy's xDS client: one ADS stream (Debian's grpc++) to the server of the bootstrap's
// dynamic_resources, state of the world (api_type GRPC, StreamAggregatedResources) or
// incremental (DELTA_GRPC, DeltaAggregatedResources). It subscribes to every cluster (CDS) and
// listener (LDS), then to the endpoints (EDS) of `type: EDS` clusters and the routes (RDS)
// listeners name, and hands each type's full state to the Server on the main thread, which
// translates it with the bootstrap's own translators and applies it. Delta responses are merged
// onto what the client holds first (delta_state.h): both protocols share one apply path. The
// verdict goes back as an ACK, or a NACK whose error_detail is the translator's error with its
// field path; a NACKed update changes nothing.
//
// Threads: the gRPC stream runs on the client's own thread; responses are Post()ed to the main
// dispatcher and the thread waits for the verdict before answering, so responses are applied in
// order. When the server is gone the thread reconnects with jittered exponential back-off
// (0.5 s doubling to 30 s) while the proxy keeps serving the last applied config.
//
// gRPC and protobuf stay behind this header. Construct and destroy on the main thread.
#pragma once

#include <memory>

#include "proxy/config/bootstrap_config.h"

namespace weft::proxy {

class Server;

class XdsClient {
 public:
  XdsClient(Server& server, const config::BootstrapConfig& bootstrap);
  ~XdsClient();  // stops the stream and joins the thread

  void Start();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace weft::proxy
