// One attempt at a request: the request forwarded to one upstream host through that host's
// connection pool, and what came back (response, or why there was none) reported to its owner.
// The owner is the stream's UpstreamRouter (which may make several attempts: retries) or a
// DetachedRequest (a mirrored copy or a filter's own fetch, owned by the worker).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/thread_free_list.h"
#include "event/dispatcher.h"
#include "network/buffer.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/cluster_manager/conn_pool.h"
#include "proxy/cluster_manager/thread_local_cluster.h"
#include "proxy/codec/codec.h"
#include "proxy/router/retry_state.h"

namespace weft::proxy {

class UpstreamRequest;

// What an UpstreamRequest reports. Every callback may destroy the UpstreamRequest.
class UpstreamRequestCallbacks {
 public:
  virtual ~UpstreamRequestCallbacks() = default;
  virtual event::Dispatcher& dispatcher() = 0;
  // Where the attempt records upstream host, addresses and timings.
  virtual access_log::StreamInfo& info() = 0;
  virtual void OnUpstream1xxHeaders(std::unique_ptr<http::HeaderMap> headers) = 0;
  virtual void OnUpstreamHeaders(UpstreamRequest& request, std::unique_ptr<http::HeaderMap> headers,
                                 bool end_stream) = 0;
  virtual void OnUpstreamData(network::Buffer& data, bool end_stream) = 0;
  virtual void OnUpstreamTrailers(std::unique_ptr<http::HeaderMap> trailers) = 0;
  // The attempt ended before any response headers. `details` is the transport's reason, if any.
  virtual void OnUpstreamFailure(UpstreamRequest& request, router::AttemptFailure failure,
                                 std::string_view details) = 0;
  // The upstream reset after the response started.
  virtual void OnUpstreamResetAfterHeaders(std::string_view details) = 0;
  virtual void OnUpstreamAboveWriteBufferHighWatermark() {}
  virtual void OnUpstreamBelowWriteBufferLowWatermark() {}
};

class UpstreamRequest : public ThreadFreeList<UpstreamRequest>,
                        public event::DeferredDeletable,
                        public http::StreamDecoder,
                        public http::StreamCallbacks,
                        public cluster::ConnPoolCallbacks {
 public:
  UpstreamRequest(UpstreamRequestCallbacks& callbacks, cluster::ThreadLocalCluster& cluster,
                  int host_index, cluster::HttpConnPool& pool);
  ~UpstreamRequest() override;

  // Starts: asks the pool for a connection and sends `headers` when it has one.
  // `headers` belong to the owner and outlive this request; they are sent as they are.
  void Start(http::HeaderMap& headers, bool end_stream);
  // Request body / trailers, buffered until the connection is ready.
  void SendData(network::Buffer& data, bool end_stream);
  void SendTrailers(const http::HeaderMap& trailers);
  // Abandons the attempt (downstream went away, timeout, retry): the upstream stream is reset.
  void Reset();
  // The route timeout fired before a response: counted for the cluster and host, then Reset().
  void OnTimeout();
  // The route's per_try_timeout fired (counted by the router): reported to outlier detection,
  // then Reset().
  void OnPerTryTimeout();
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
  int host_index() const { return host_index_; }
  const upstream::Host& host() const { return pool_.host(); }
  // Outlier detection and load balancers learn each attempt's result through the cluster.
  cluster::ThreadLocalCluster& cluster() { return cluster_; }

 private:
  void Done();

  UpstreamRequestCallbacks& callbacks_;
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
  bool counted_request_ = false;  // holds one of the cluster's max_requests
  int read_disabled_ = 0;
  event::MonotonicTime start_;
};

}  // namespace weft::proxy
