// HTTP/2 settings shared by the config (envoy.config.core.v3.Http2ProtocolOptions on a listener's
// connection manager or on a cluster) and the HTTP/2 codec. Plain data, no dependencies.
#pragma once

#include <chrono>
#include <cstdint>

namespace weft::http {

// envoy.config.core.v3.Http2ProtocolOptions, with Envoy's defaults (protocol.proto: hpack table
// 4096, max_concurrent_streams 2147483647, both windows 268435456 = 256 MiB).
struct Http2Options {
  uint32_t hpack_table_size = 4096;
  uint32_t max_concurrent_streams = 2147483647;
  uint32_t initial_stream_window_size = 268435456;
  uint32_t initial_connection_window_size = 268435456;
  // A stream's outbound bytes the codec holds (waiting for the peer's window or the socket)
  // above which the stream's source is told to stop reading (StreamCallbacks watermarks).
  uint32_t stream_write_buffer_limit = 1024 * 1024;
  // Server: time between the GOAWAY "shutdown notice" and the final GOAWAY on drain
  // (the connection manager's drain_timeout).
  std::chrono::milliseconds drain_timeout{5000};
};

}  // namespace weft::http
