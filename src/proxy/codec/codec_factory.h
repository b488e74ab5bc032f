// Creates the codec for a connection's protocol. The only place that knows which concrete codecs
// exist; the connection manager and the pools see http::Connection / http::ClientConnection.
#pragma once

#include <memory>

#include "network/connection.h"
#include "proxy/codec/codec.h"

namespace weft::http {

struct CodecLimits {
  size_t max_header_count = 100;
  size_t max_header_bytes = 60 * 1024;
  size_t max_url_length = 8192;
  bool allow_chunked_length = false;
};

std::unique_ptr<Connection> CreateHttp1ServerCodec(network::Connection& connection,
                                                   ServerConnectionCallbacks& callbacks,
                                                   const CodecLimits& limits);
std::unique_ptr<ClientConnection> CreateHttp1ClientCodec(network::Connection& connection,
                                                         ClientConnectionCallbacks& callbacks);

}  // namespace weft::http
