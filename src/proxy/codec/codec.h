// The seam between the HTTP connection manager / router and the wire protocols. A codec turns
// bytes into streams of (headers, body, trailers) and back; HTTP/1.1 has one stream at a time per
// connection, HTTP/2 many. The connection manager and the upstream pools program only against
// these interfaces, so HTTP/1 <-> HTTP/2 translation is just "decode with one, encode with the
// other".
//
// Not thread-safe: a codec lives on its connection's dispatcher.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/header_map.h"
#include "network/buffer.h"

namespace weft::http {

enum class Protocol { kHttp10, kHttp11, kHttp2 };
std::string_view ProtocolString(Protocol p);  // "HTTP/1.0", "HTTP/1.1", "HTTP/2"

// Why a stream ended early.
enum class StreamResetReason {
  kConnectionFailure,      // could not connect upstream
  kConnectionTermination,  // the connection closed under the stream
  kLocalReset,
  kRemoteReset,
  // The peer refused the stream before processing it (HTTP/2 REFUSED_STREAM, or a stream above
  // a GOAWAY's last stream id): safe to retry on another connection.
  kRemoteRefusedStreamReset,
  kOverflow,
  kProtocolError,
};

// Receives one stream's parts, in order.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual void DecodeHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) = 0;
  virtual void DecodeData(network::Buffer& data, bool end_stream) = 0;
  virtual void DecodeTrailers(std::unique_ptr<HeaderMap> trailers) = 0;
  // 1xx informational headers (100 Continue) on the response side.
  virtual void Decode1xxHeaders(std::unique_ptr<HeaderMap> headers) {}
};

// Hears about a stream's end that did not come through its decoder.
class StreamCallbacks {
 public:
  virtual ~StreamCallbacks() = default;
  virtual void OnResetStream(StreamResetReason reason, std::string_view details) = 0;
  // Flow control: the stream's outbound bytes are backing up / have drained.
  virtual void OnAboveWriteBufferHighWatermark() {}
  virtual void OnBelowWriteBufferLowWatermark() {}
};

// Sends one stream's parts, in order.
class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;
  // The encoder may add or remove framing fields (content-length, transfer-encoding, connection)
  // in place: it owns the wire format, and this saves copying every header of every message.
  virtual void EncodeHeaders(HeaderMap& headers, bool end_stream) = 0;
  virtual void EncodeData(network::Buffer& data, bool end_stream) = 0;
  virtual void EncodeTrailers(const HeaderMap& trailers) = 0;
  virtual void Encode1xxHeaders(const HeaderMap& headers) {}
  virtual void SetCallbacks(StreamCallbacks* callbacks) = 0;
  virtual void ResetStream(StreamResetReason reason) = 0;
  // Stop / resume delivering this stream's inbound data (flow control toward the peer).
  virtual void ReadDisable(bool disable) = 0;
  virtual Protocol protocol() const = 0;
};

// The server side of a downstream connection: it asks for a decoder when a request starts.
class ServerConnectionCallbacks {
 public:
  virtual ~ServerConnectionCallbacks() = default;
  virtual StreamDecoder& NewStream(StreamEncoder& response_encoder) = 0;
  // Bytes that were not a valid request, before any stream existed; the codec has already
  // queued the error response (`status`). For stats and access logs.
  virtual void OnProtocolError(uint32_t status, std::string_view details) {}
};

// A local reply the codec asks for when the peer's bytes are not valid HTTP (400/413/414/431).
struct ProtocolError {
  uint32_t status = 400;
  std::string details;  // e.g. "http1.content_length_and_chunked_not_allowed"
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Feeds bytes read from the socket. An error means the connection must close (after the
  // local reply that the codec already wrote, if any).
  virtual absl::Status Dispatch(network::Buffer& data) = 0;
  // The peer half-closed.
  virtual void OnEof() {}
  // The connection is gone: streams still open are reset with `reason`.
  virtual void OnClose(StreamResetReason reason, std::string_view details) {}
  virtual Protocol protocol() const = 0;
  // Graceful close on drain: HTTP/1 sends "connection: close" on the next response, HTTP/2 GOAWAY.
  virtual void ShutdownNotice() {}
  // Whether it may take another request/stream (HTTP/1: not after "connection: close").
  virtual bool WantsMoreStreams() const { return true; }
  // The socket's outbound bytes are backing up / have drained: tell the streams writing to it,
  // so they stop reading from their other side (flow control across the proxy).
  virtual void OnAboveWriteBufferHighWatermark() {}
  virtual void OnBelowWriteBufferLowWatermark() {}
};

// What a client codec tells the connection pool that owns it.
class ClientConnectionCallbacks {
 public:
  virtual ~ClientConnectionCallbacks() = default;
  // A stream finished both ways (request sent, response received) or was reset. `reusable`:
  // the connection may carry another request (keep-alive, nothing left half-done).
  virtual void OnStreamDone(bool reusable) = 0;
  // The peer will take no new streams on this connection (HTTP/2 GOAWAY); streams in flight
  // finish. The pool stops choosing the connection and opens another for new requests.
  virtual void OnGoAway() {}
  // HTTP/2: the peer's SETTINGS arrived (its stream limit is known: streams sent before it may
  // be refused) or changed.
  virtual void OnSettings() {}
};

class ClientConnection : public Connection {
 public:
  // Starts a request; its response arrives on `response_decoder`.
  virtual StreamEncoder& NewStream(StreamDecoder& response_decoder) = 0;
  virtual size_t ActiveStreams() const = 0;
  // How many streams the connection may carry at once: 1 for HTTP/1, for HTTP/2 the lower of
  // our max_concurrent_streams and the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
  virtual size_t MaxConcurrentStreams() const { return 1; }
};

}  // namespace weft::http
