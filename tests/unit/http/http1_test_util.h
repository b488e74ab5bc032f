// Test support for the HTTP/1 codec, shared by the unit tests and the fuzzer (so it uses no
// GoogleTest): a visitor that records every event, feeding helpers that split input in different
// ways, and a re-serializer that turns a parsed message back into bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http1_parser.h"
#include "http/http1_serializer.h"

namespace weft::http::testing {

struct ParsedMessage {
  bool begun = false;
  bool headers_complete = false;
  HeaderMap headers;
  Http1MessageInfo info;
  std::string body;
  size_t body_calls = 0;
  std::optional<HeaderMap> trailers;
  bool complete = false;
};

// Records events; checks their order and reports violations in `order_violation`.
class RecordingVisitor : public Http1Visitor {
 public:
  void OnMessageBegin() override {
    if (!messages.empty() && !messages.back().complete) order_violation = "begin inside a message";
    messages.emplace_back();
    messages.back().begun = true;
  }
  void OnHeadersComplete(HeaderMap&& headers, const Http1MessageInfo& info) override {
    if (messages.empty() || messages.back().headers_complete) {
      order_violation = "headers without begin";
      messages.emplace_back();
    }
    messages.back().headers = std::move(headers);
    messages.back().info = info;
    messages.back().headers_complete = true;
  }
  void OnBody(std::string_view data) override {
    if (messages.empty() || !messages.back().headers_complete || messages.back().complete) {
      order_violation = "body outside a message";
      return;
    }
    if (data.empty()) order_violation = "empty body callback";
    messages.back().body.append(data);
    ++messages.back().body_calls;
  }
  void OnTrailers(HeaderMap&& trailers) override {
    if (messages.empty() || !messages.back().headers_complete) {
      order_violation = "trailers outside a message";
      return;
    }
    messages.back().trailers = std::move(trailers);
  }
  void OnMessageComplete() override {
    if (messages.empty() || !messages.back().headers_complete || messages.back().complete) {
      order_violation = "complete outside a message";
      return;
    }
    messages.back().complete = true;
  }
  void OnError(const Http1ParseError& e) override {
    if (error) order_violation = "two errors";
    error = e;
  }

  std::vector<ParsedMessage> messages;
  std::optional<Http1ParseError> error;
  std::string order_violation;
};

// Feeds `data` in slices of `step` bytes (0: all at once). Stops early when the parser stops
// consuming (pause, upgrade, error). Returns the bytes consumed.
inline size_t FeedInSteps(Http1Parser& parser, std::string_view data, size_t step) {
  if (step == 0) return parser.Execute(data);
  size_t total = 0;
  while (total < data.size()) {
    std::string_view slice = data.substr(total, step);
    size_t n = parser.Execute(slice);
    total += n;
    if (n < slice.size()) break;
  }
  return total;
}

// Serializes a parsed message back to HTTP/1.1 bytes with the framing it was parsed with: the body
// as-is for Content-Length, re-chunked (one chunk) for chunked, as-is for close-delimited.
// Returns false if the serializer refuses the headers.
inline bool Reserialize(Http1MessageType type, const ParsedMessage& m, std::string& out) {
  absl::Status status;
  if (type == Http1MessageType::kRequest) {
    Http1RequestHeadOptions options;
    options.version_minor = m.info.version_minor;
    status = SerializeRequestHead(m.headers, out, options);
  } else {
    status = SerializeResponseHead(m.headers, out, m.info.version_minor);
  }
  if (!status.ok()) return false;
  if (m.info.framing == BodyFraming::kChunked) {
    AppendChunk(m.body, out);
    return AppendLastChunk(m.trailers ? &*m.trailers : nullptr, out).ok();
  }
  out += m.body;
  return true;
}

// Field-by-field equality of two header maps, order included.
inline bool SameHeaders(const HeaderMap& a, const HeaderMap& b, bool ignore_scheme = false) {
  auto ia = a.begin();
  auto ib = b.begin();
  while (true) {
    if (ignore_scheme) {
      while (ia != a.end() && ia->name == ":scheme") ++ia;
      while (ib != b.end() && ib->name == ":scheme") ++ib;
    }
    if (ia == a.end() || ib == b.end()) return ia == a.end() && ib == b.end();
    if (ia->name != ib->name || ia->value != ib->value) return false;
    ++ia;
    ++ib;
  }
}

}  // namespace weft::http::testing
