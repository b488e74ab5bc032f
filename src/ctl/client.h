// weftctl's HTTP client for weftd's API: plain blocking HTTP/1.1 over a socket, one request per
// connection, JSON bodies. No dependency beyond the standard library and nlohmann::json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace weft::ctl {

struct Response {
  int status = 0;       // 0: no usable answer (the client already said why on stderr)
  nlohmann::json body;  // an object or array; null when the answer was not JSON
};

class Client {
 public:
  // `server`: "http://HOST:PORT", "HOST:PORT" or "[IPv6]:PORT".
  explicit Client(std::string server);

  Response Call(const std::string& method, const std::string& path, const std::string& body = "");
  Response Get(const std::string& path) { return Call("GET", path); }

  // "HOST:PORT", as kubectl names the server in its errors.
  std::string Authority() const { return host_ + ":" + port_; }

 private:
  std::string host_, port_;
};

// Percent-encodes one path segment (RFC 3986: everything but unreserved characters), so node ids
// with '/', '|' or spaces survive the trip.
std::string EscapePathSegment(const std::string& segment);

// Prints kubectl's "Error from server (Reason): message" for a failed response (nothing when
// there was no answer: Call already said why). Returns 1, the exit code.
int ServerError(const Response& response);

}  // namespace weft::ctl
