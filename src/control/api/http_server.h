// weftd's HTTP/1.1 server: weft's own event loop, connections and HTTP/1 codec (the same ones the
// proxy's admin endpoint uses), with whole request bodies handed to one handler, and responses
// either whole or streamed as chunks until the client goes away (Kubernetes-style watches).
//
// Not thread-safe: everything runs on the dispatcher it was built with.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "event/dispatcher.h"
#include "network/address.h"
#include "network/listen_socket.h"

namespace weft::control {

struct HttpRequest {
  std::string method;
  std::string path;  // decoded path, without the query
  std::map<std::string, std::string> query;
  std::string body;
};

// One request's way back to its client.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual void Respond(uint32_t status, std::string_view content_type, std::string_view body) = 0;
  // Starts a chunked response that stays open; `on_close` runs once when the client goes away
  // or the server closes the stream, after which Write() does nothing.
  virtual void StartStream(uint32_t status, std::string_view content_type,
                           std::function<void()> on_close) = 0;
  // One chunk of a stream. A client that stops reading is cut off rather than buffered without
  // bound (kMaxStreamBacklog).
  virtual void Write(std::string_view chunk) = 0;
  // Ends a stream from the server side.
  virtual void EndStream() = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpExchange&)>;

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBody = 3 << 20;     // Kubernetes' apiserver limit: 3 MiB
  static constexpr size_t kMaxStreamBacklog = 16 << 20;  // unread watch bytes before cut-off

  HttpServer(event::Dispatcher& dispatcher, HttpHandler handler);
  ~HttpServer();

  absl::Status Listen(const network::Address& address);
  const network::Address& address() const { return address_; }

 private:
  class Connection;
  event::Dispatcher& dispatcher_;
  HttpHandler handler_;
  std::unique_ptr<network::Acceptor> acceptor_;
  network::Address address_;
  std::list<std::unique_ptr<Connection>> connections_;
};

}  // namespace weft::control
