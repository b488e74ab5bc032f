// Weft's HTTP/1.1 message parser (RFC 9112), for requests arriving from downstream and responses
// arriving from upstream. It is incremental (bytes may arrive one at a time or as many pipelined
// messages in one read), strict (anything a smuggling attack could exploit is refused with the
// status code to answer and a reason) and copies as little as it can:
//
//   - Header names and values are copied exactly once, into the HeaderMap's strings. When the whole
//     header section arrives in one read (the common case) it is parsed in place; only a header
//     section split across reads is gathered in an internal buffer whose capacity is reused.
//   - Body bytes are never copied: OnBody() receives views into the slice given to Execute().
//
// Push style: Execute() calls a Http1Visitor once per event (never per byte). A request becomes a
// HeaderMap with pseudo-headers first (":method", ":scheme", ":authority", ":path"; CONNECT has
// only
// ":method" and ":authority"), then the remaining fields with lower-case names; Host is folded
// into ":authority". A response becomes ":status" followed by its fields.
//
// Thread-safety: none; a parser belongs to one connection on one worker. The visitor must not
// destroy the parser from inside a callback; it may call PushRequestMethod() and Pause().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/header_map.h"

namespace weft::http {

enum class Http1MessageType : uint8_t { kRequest, kResponse };

// How the body of a message is delimited (RFC 9112 §6.3).
enum class BodyFraming : uint8_t {
  kNone,           // no body (also HEAD/1xx/204/304 responses and tunnels)
  kContentLength,  // exactly Http1MessageInfo::content_length bytes
  kChunked,        // chunked transfer coding, possibly with trailers
  kUntilClose,     // response read until the connection closes (Http1Parser::OnEof)
};

// What the start line and framing fields said, handed over with the headers.
struct Http1MessageInfo {
  int version_minor = 1;  // 0 for HTTP/1.0, 1 for HTTP/1.1 (and 1.x, x > 1, per RFC 9112 §2.3)
  int status_code = 0;    // responses only
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;  // meaningful when framing == kContentLength
  // Whether the connection may carry another message after this one (Connection header and
  // version defaults; false for close-delimited responses).
  bool keep_alive = true;
  // Request carried "Expect: 100-continue" (HTTP/1.1 only): the peer waits for a 100 or a final
  // status before sending the body.
  bool expect_continue = false;
  // Request: asks to switch protocols (Upgrade + "Connection: upgrade", HTTP/1.1).
  // Response: 101 Switching Protocols; bytes after the head are the new protocol's.
  bool upgrade = false;
  // Request: CONNECT. Response: a 2xx answer to CONNECT; bytes after the head are the tunnel's.
  bool connect = false;
};

// Why a message was refused. `status_code` is what to answer the peer that sent it: 400, 414,
// 431, 501 or 505 for requests; always 502 for responses (the upstream broke the protocol).
// `reason` is a static string, safe to keep.
struct Http1ParseError {
  int status_code = 0;
  std::string_view reason;
};

// Receives parse events in order: OnMessageBegin, OnHeadersComplete, OnBody*, OnTrailers?,
// OnMessageComplete, then the next message's events. OnError ends the stream of events.
class Http1Visitor {
 public:
  virtual ~Http1Visitor() = default;
  virtual void OnMessageBegin() {}
  virtual void OnHeadersComplete(HeaderMap&& headers, const Http1MessageInfo& info) = 0;
  // A view into the slice passed to Execute(); valid only during the call.
  virtual void OnBody(std::string_view data) = 0;
  // Trailer fields of a chunked message, names lower-case; only called when there are some.
  virtual void OnTrailers(HeaderMap&& trailers) {}
  virtual void OnMessageComplete() = 0;
  virtual void OnError(const Http1ParseError& error) = 0;
};

struct Http1ParserOptions {
  // Header fields per message (431 when exceeded); trailers have the same limit.
  size_t max_header_count = 100;
  // Bytes of start line + header fields, CRLFs included (431); trailers have the same limit.
  size_t max_header_bytes = 60 * 1024;
  // Bytes of the request-target (414).
  size_t max_url_length = 16 * 1024;
  // Bytes of one chunk-size line including extensions and CRLF (400).
  size_t max_chunk_line_length = 1024;
  // Accept Content-Length together with Transfer-Encoding: chunked; chunked wins and the
  // Content-Length field is removed (Envoy's allow_chunked_length). Off: such messages are refused.
  bool allow_chunked_length = false;
};

class Http1Parser {
 public:
  Http1Parser(Http1MessageType type, Http1Visitor& visitor, const Http1ParserOptions& options = {});
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Parses `data`, calling the visitor. Returns how many bytes were consumed: all of them, except
  // when parsing stopped on an error (failed()), after an upgrade/CONNECT request (paused()), or
  // after a 101 / 2xx-to-CONNECT response (upgraded()). Bytes past that point belong to the caller
  // (e.g. the first bytes of a WebSocket or tunnel stream). After a message that does not keep
  // the connection alive, further bytes are consumed and discarded (closed()). After an error the
  // count only says roughly how far parsing got (it depends on how the input was sliced).
  size_t Execute(std::string_view data);

  // The peer closed its side. Completes a close-delimited response; reports an error if a message
  // was cut short; does nothing between messages.
  void OnEof();

  // Client side: call once per request sent on this connection, in order, so the parser knows
  // which responses have no body (HEAD) or open a tunnel (CONNECT). Responses whose request was
  // not pushed are treated as answers to GET. Returns false if too many requests are outstanding.
  bool PushRequestMethod(std::string_view method);

  // After an upgrade or CONNECT request the parser pauses, because whether the connection switches
  // protocols depends on the answer. Resume() continues parsing HTTP/1 (the upgrade was refused).
  void Resume();
  // Stops Execute() after the message that just completed: call from OnMessageComplete().
  // Execute() returns the bytes consumed so far; Resume() continues. Servers use it to answer
  // pipelined requests one at a time.
  void Pause();

  bool paused() const { return state_ == State::kPaused; }
  bool upgraded() const { return state_ == State::kUpgraded; }
  bool closed() const { return state_ == State::kClosed; }
  bool failed() const { return state_ == State::kError; }
  const Http1ParseError& error() const { return error_; }
  // Between messages (nothing of a next message received yet).
  bool idle() const { return state_ == State::kHead && !in_message_ && head_buf_.empty(); }

 private:
  enum class State : uint8_t {
    kHead,          // start line and header fields
    kBodyLength,    // Content-Length body
    kChunkLine,     // chunk-size [; ext] CRLF
    kChunkData,     // chunk-data
    kChunkDataEnd,  // CRLF after chunk-data
    kTrailers,      // trailer section after the last chunk
    kBodyUntilEof,  // close-delimited response body
    kPaused,        // upgrade/CONNECT request complete; the caller decides
    kUpgraded,      // the connection no longer speaks HTTP/1
    kClosed,        // last message on a non-persistent connection complete
    kError,
  };
  enum class ChunkLineState : uint8_t { kSize, kSpace, kExtension, kLf };
  enum class RequestMethodKind : uint8_t { kOther, kHead, kConnect };

  size_t ConsumeHead(std::string_view in, bool trailers);
  bool CheckPartialHeadLimits(size_t head_len, bool trailers);
  void ParseHead(std::string_view block);
  void ParseTrailers(std::string_view block);
  size_t ConsumeChunkLine(std::string_view in);
  void StartBody();
  void CompleteMessage();
  void BeginMessage();
  void Fail(int status_code, std::string_view reason);

  // The head being parsed: fields collected by ParseHead and its helpers.
  struct HeadScratch;
  bool ParseRequestLine(std::string_view line, HeaderMap& headers, HeadScratch& scratch);
  bool ParseStatusLine(std::string_view line, HeaderMap& headers);
  bool ParseFieldLine(std::string_view line, HeaderMap& headers, HeadScratch* scratch);
  bool DecideRequestFraming(HeaderMap& headers, HeadScratch& scratch);
  bool DecideResponseFraming(HeaderMap& headers, HeadScratch& scratch);

  const Http1MessageType type_;
  Http1Visitor& visitor_;
  const Http1ParserOptions options_;
  State state_ = State::kHead;
  Http1ParseError error_;

  // Head accumulation across reads.
  std::string head_buf_;
  size_t line_start_ = 0;  // offset in the head of the line being scanned
  size_t head_lines_ = 0;  // complete non-empty lines of the head so far
  bool in_message_ = false;

  Http1MessageInfo info_;
  uint64_t remaining_ = 0;  // body or chunk bytes still expected
  ChunkLineState chunk_line_state_ = ChunkLineState::kSize;
  size_t chunk_line_len_ = 0;
  int chunk_digits_ = 0;
  bool chunk_data_cr_seen_ = false;

  // Methods of requests awaiting a response (client side), a small ring.
  static constexpr size_t kMaxPendingRequests = 64;
  std::array<RequestMethodKind, kMaxPendingRequests> pending_methods_{};
  size_t pending_head_ = 0;
  size_t pending_count_ = 0;
  RequestMethodKind current_method_ = RequestMethodKind::kOther;
};

}  // namespace weft::http
