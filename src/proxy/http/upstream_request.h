// The router's half of a stream: one request forwarded to one upstream host through the
// cluster's connection pool, and its response relayed back to the ActiveStream.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "network/buffer.h"
#include "proxy/cluster_manager/conn_pool.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/codec/codec.h"

namespace weft::proxy {

class ActiveStream;

class UpstreamRequest : public http::StreamDecoder,
                        public http::StreamCallbacks,
                        public cluster::ConnPoolCallbacks {
 public:
  UpstreamRequest(ActiveStream& stream, cluster::ThreadLocalCluster& cluster, int host_index,
                  cluster::HttpConnPool& pool);
  ~UpstreamRequest() override;

  // Starts: asks the pool for a connection and sends `headers` when it has one.
  // `headers` belong to the stream and outlive this request; they are sent as they are.
  void Start(http::HeaderMap& headers, bool end_stream);
  // Request body / trailers from downstream, buffered until the connection is ready.
  void SendData(network::Buffer& data, bool end_stream);
  void SendTrailers(const http::HeaderMap& trailers);
  // Abandons the request (downstream went away, timeout): the upstream connection is reset.
  void Reset();
  // The route timeout fired before a response: counted for the cluster and host, then Reset().
  void OnTimeout();
  void ReadDisable(bool disable);

  // cluster::ConnPoolCallbacks
  void OnPoolReady(http::StreamEncoder& encoder, const network::Connection& connection) override;
  void OnPoolFailure(cluster::PoolFailureReason reason, std::string_view details) override;

  // http::StreamDecoder: the response.
  void Decode1xxHeaders(std::unique_ptr<http::HeaderMap> headers) override;
  void DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) override;
  void DecodeData(network::Buffer& data, bool end_stream) override;
  void DecodeTrailers(std::unique_ptr<http::HeaderMap> trailers) override;

  // http::StreamCallbacks: the upstream stream.
  void OnResetStream(http::StreamResetReason reason, std::string_view details) override;
  void OnAboveWriteBufferHighWatermark() override;
  void OnBelowWriteBufferLowWatermark() override;

  bool response_started() const { return response_started_; }

 private:
  void Done();

  ActiveStream& stream_;
  cluster::ThreadLocalCluster& cluster_;
  int host_index_;
  cluster::HttpConnPool& pool_;
  cluster::PendingRequest* pending_ = nullptr;
  http::StreamEncoder* encoder_ = nullptr;
  http::HeaderMap* headers_ = nullptr;
  network::Buffer buffered_;
  std::unique_ptr<http::HeaderMap> buffered_trailers_;
  bool headers_end_stream_ = false;
  bool buffered_end_stream_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool done_ = false;
  int read_disabled_ = 0;
  event::MonotonicTime start_;
};

}  // namespace weft::proxy
