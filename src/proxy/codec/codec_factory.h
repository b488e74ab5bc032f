// Creates the codec for a connection's protocol. The only place that knows which concrete codecs
// exist; the connection manager and the pools see http::Connection / http::ClientConnection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "http/http2_options.h"
#include "network/connection.h"
#include "proxy/codec/codec.h"

namespace weft::http {

struct CodecLimits {
  size_t max_header_count = 100;
  size_t max_header_bytes = 60 * 1024;
  size_t max_url_length = 8192;
  bool allow_chunked_length = false;
};

;

// codec_type AUTO: whether a connection's first bytes are HTTP/2's client preface
// ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RFC 9113 §3.4), HTTP/1, or too short to tell yet.
enum class SniffResult { kHttp1, kHttp2, kNeedMoreData };
SniffResult SniffProtocol(std::string_view first_bytes);

std::unique_ptr<Connection> CreateHttp1ServerCodec(network::Connection& connection,
                                                   ServerConnectionCallbacks& callbacks,
                                                   const CodecLimits& limits);
std::unique_ptr<ClientConnection> CreateHttp1ClientCodec(network::Connection& connection,
                                                         ClientConnectionCallbacks& callbacks);

// HTTP/2 without TLS ("h2c" with prior knowledge, RFC 9113 §3.3).
std::unique_ptr<Connection> CreateHttp2ServerCodec(network::Connection& connection,
                                                   ServerConnectionCallbacks& callbacks,
                                                   const CodecLimits& limits,
                                                   const Http2Options& options);
std::unique_ptr<ClientConnection> CreateHttp2ClientCodec(network::Connection& connection,
                                                         ClientConnectionCallbacks& callbacks,
                                                         const Http2Options& options);

}  // namespace weft::http
