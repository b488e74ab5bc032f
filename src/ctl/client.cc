#include "ctl/client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "ctl/json_fields.h"

namespace weft::ctl {

Client::Client(std::string server) {
  if (server.rfind("http://", 0) == 0) server = server.substr(7);
  while (!server.empty() && server.back() == '/') server.pop_back();
  size_t colon = server.rfind(':');
  size_t bracket = server.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    host_ = server;
    port_ = "80";
  } else {
    host_ = server.substr(0, colon);
    port_ = server.substr(colon + 1);
  }
  if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') {
    host_ = host_.substr(1, host_.size() - 2);
  }
}

Response Client::Call(const std::string& method, const std::string& path, const std::string& body) {
  Response r;
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0 || res == nullptr) {
    std::fprintf(stderr, "Unable to connect to the server: dial tcp: lookup %s: no such host\n",
                 host_.c_str());
    return r;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    // kubectl's words when nothing listens there.
    std::fprintf(stderr,
                 "The connection to the server %s was refused - did you specify the right host "
                 "or port?\n",
                 Authority().c_str());
    freeaddrinfo(res);
    if (fd >= 0) close(fd);
    return r;
  }
  freeaddrinfo(res);
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + Authority() +
                        "\r\nConnection: close\r\nAccept: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (size_t off = 0; off < request.size();) {
    ssize_t n = write(fd, request.data() + off, request.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) {
    std::fprintf(stderr, "error: the server %s closed the connection without an answer\n",
                 Authority().c_str());
    return r;
  }
  r.status = std::atoi(raw.c_str() + 9);
  std::string headers = raw.substr(0, head_end);
  std::string payload = raw.substr(head_end + 4);
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    while (pos < payload.size()) {
      size_t eol = payload.find("\r\n", pos);
      size_t size = std::strtoul(payload.c_str() + pos, nullptr, 16);
      if (eol == std::string::npos || size == 0) break;
      decoded += payload.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    payload = decoded;
  }
  r.body = nlohmann::json::parse(payload, nullptr, false);
  if (r.body.is_discarded() || !r.body.is_structured()) {
    r.body = nullptr;
    if (r.status >= 200 && r.status < 300) {
      // Not weftd (or not its API): say so rather than print nothing.
      std::fprintf(stderr, "error: the server %s answered %s %s with something that is not JSON\n",
                   Authority().c_str(), method.c_str(), path.c_str());
      r.status = 0;
    }
  }
  return r;
}

std::string EscapePathSegment(const std::string& segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int ServerError(const Response& r) {
  if (r.status == 0) return 1;
  std::string reason = TextField(r.body, "reason");
  std::string message = TextField(r.body, "message");
  if (reason.empty()) {
    // Not a Kubernetes Status: kubectl's wording for a bare 404, else the code.
    reason = r.status == 404 ? "NotFound" : "HTTP " + std::to_string(r.status);
    if (message.empty()) {
      message = r.status == 404 ? "the server could not find the requested resource"
                                : "the server answered " + std::to_string(r.status);
    }
  }
  std::fprintf(stderr, "Error from server (%s): %s\n", reason.c_str(), message.c_str());
  return 1;
}

}  // namespace weft::ctl
