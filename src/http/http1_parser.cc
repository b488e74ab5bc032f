#include "http/http1_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "http/http1_chars.h"

namespace weft::http {

namespace {

using chars::At;
using chars::EqualsIgnoreCase;

// Slack for the method, spaces and version around a request-target still being received: a
// start line longer than max_url_length plus this is answered 414 before it ends.
constexpr size_t kStartLineSlack = 64;
// Content-Length and chunk sizes beyond this are refused (RFC 9112 §7.1 asks for overflow checks).
constexpr uint64_t kMaxBodyLength = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

enum class ContentLengthResult { kOk, kInvalid, kDiffering };

// A Content-Length value: one decimal number, or a list of identical ones ("5, 5"), RFC 9110 §8.6.
ContentLengthResult ParseContentLength(std::string_view value, uint64_t& out) {
  bool have = false;
  uint64_t first = 0;
  while (true) {
    size_t comma = value.find(',');
    std::string_view element = chars::TrimOws(value.substr(0, comma));
    if (element.empty()) return ContentLengthResult::kInvalid;
    uint64_t n = 0;
    for (char c : element) {
      if (!chars::IsDigit(c)) return ContentLengthResult::kInvalid;
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (kMaxBodyLength - digit) / 10) return ContentLengthResult::kInvalid;
      n = n * 10 + digit;
    }
    if (have && n != first) return ContentLengthResult::kDiffering;
    have = true;
    first = n;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  out = first;
  return ContentLengthResult::kOk;
}

// "HTTP/1.1" -> 1, "HTTP/1.0" -> 0; -1 if malformed, -2 if a version other than 1.x.
int ParseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !chars::IsDigit(v[5]) || v[6] != '.' ||
      !chars::IsDigit(v[7])) {
    return -1;
  }
  if (v[5] != '1') return -2;
  return v[7] == '0' ? 0 : 1;
}

std::string LowerCopy(std::string_view s) {
  std::string out(s.size(), '\0');
  for (size_t i = 0; i < s.size(); ++i) out[i] = chars::ToLower(s[i]);
  return out;
}

bool IsKnownTransferCoding(std::string_view coding) {
  return coding == "chunked" || coding == "gzip" || coding == "x-gzip" || coding == "deflate" ||
         coding == "compress" || coding == "x-compress";
}

// Authority of CONNECT's authority-form: host ":" port (RFC 9112 §3.2.3).
bool IsAuthorityForm(std::string_view target) {
  size_t colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == target.size()) return false;
  for (char c : target.substr(colon + 1)) {
    if (!chars::IsDigit(c)) return false;
  }
  return chars::IsUriPart(target, chars::kAuthority);
}

}  // namespace

// Facts about the head gathered while its fields are parsed, turned into framing at the end.
struct Http1Parser::HeadScratch {
  int host_count = 0;
  size_t authority_index = 0;          // index of ":authority" in the request's HeaderMap
  bool authority_from_target = false;  // absolute-form or CONNECT: Host does not set it
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  bool te_last_is_chunked = false;
  bool te_chunked_not_last = false;  // chunked followed by another coding (or itself)
  bool te_unknown = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool conn_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
};

Http1Parser::Http1Parser(Http1MessageType type, Http1Visitor& visitor,
                         const Http1ParserOptions& options)
    : type_(type), visitor_(visitor), options_(options) {}

bool Http1Parser::PushRequestMethod(std::string_view method) {
  if (pending_count_ == kMaxPendingRequests) return false;
  RequestMethodKind kind = method == "HEAD"      ? RequestMethodKind::kHead
                           : method == "CONNECT" ? RequestMethodKind::kConnect
                                                 : RequestMethodKind::kOther;
  pending_methods_[(pending_head_ + pending_count_) % kMaxPendingRequests] = kind;
  ++pending_count_;
  return true;
}

void Http1Parser::Resume() {
  if (state_ == State::kPaused) state_ = State::kHead;
}

void Http1Parser::Pause() {
  if (state_ == State::kHead) state_ = State::kPaused;
}

void Http1Parser::Fail(int status_code, std::string_view reason) {
  state_ = State::kError;
  error_.status_code = type_ == Http1MessageType::kResponse ? 502 : status_code;
  error_.reason = reason;
  head_buf_.clear();
  visitor_.OnError(error_);
}

void Http1Parser::BeginMessage() {
  in_message_ = true;
  visitor_.OnMessageBegin();
}

size_t Http1Parser::Execute(std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    switch (state_) {
      case State::kHead:
        off += ConsumeHead(data.substr(off), /*trailers=*/false);
        break;
      case State::kTrailers:
        off += ConsumeHead(data.substr(off), /*trailers=*/true);
        break;
      case State::kBodyLength:
      case State::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - off));
        visitor_.OnBody(data.substr(off, n));
        off += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          if (state_ == State::kBodyLength) {
            CompleteMessage();
          } else {
            state_ = State::kChunkDataEnd;
            chunk_data_cr_seen_ = false;
          }
        }
        break;
      }
      case State::kChunkLine:
        off += ConsumeChunkLine(data.substr(off));
        break;
      case State::kChunkDataEnd: {
        char c = data[off];
        if (!chunk_data_cr_seen_) {
          if (c != '\r') {
            Fail(400, "chunk data not followed by CRLF");
            return off;
          }
          chunk_data_cr_seen_ = true;
        } else {
          if (c != '\n') {
            Fail(400, "chunk data not followed by CRLF");
            return off;
          }
          state_ = State::kChunkLine;
          chunk_line_state_ = ChunkLineState::kSize;
          chunk_line_len_ = 0;
          chunk_digits_ = 0;
          remaining_ = 0;
        }
        ++off;
        break;
      }
      case State::kBodyUntilEof:
        visitor_.OnBody(data.substr(off));
        off = data.size();
        break;
      case State::kClosed:
        return data.size();
      case State::kPaused:
      case State::kUpgraded:
      case State::kError:
        return off;
    }
  }
  return off;
}

void Http1Parser::OnEof() {
  switch (state_) {
    case State::kHead:
      if (in_message_) Fail(400, "connection closed before the header section ended");
      break;
    case State::kBodyUntilEof:
      info_.keep_alive = false;
      CompleteMessage();
      break;
    case State::kBodyLength:
    case State::kChunkLine:
    case State::kChunkData:
    case State::kChunkDataEnd:
    case State::kTrailers:
      Fail(400, "connection closed before the body ended");
      break;
    case State::kPaused:
    case State::kUpgraded:
    case State::kClosed:
    case State::kError:
      break;
  }
}

bool Http1Parser::CheckPartialHeadLimits(size_t head_len, bool trailers) {
  if (!trailers && type_ == Http1MessageType::kRequest && head_lines_ == 0 &&
      head_len > options_.max_url_length + kStartLineSlack) {
    Fail(414, "request line too long");
    return false;
  }
  if (head_len > options_.max_header_bytes) {
    Fail(431, trailers ? "trailer section too large" : "header section too large");
    return false;
  }
  return true;
}

// Finds the end of the head (an empty line) line by line, checking that each line ends in CRLF.
// The head is parsed in place from `in` when it starts and ends there; otherwise it is gathered in
// head_buf_, which receives only head bytes (never body bytes).
size_t Http1Parser::ConsumeHead(std::string_view in, bool trailers) {
  size_t base = head_buf_.size();  // head offset of in[start]
  size_t start = 0;                // where this head's bytes begin in `in`
  size_t off = 0;
  while (true) {
    const void* found =
        off < in.size() ? std::memchr(in.data() + off, '\n', in.size() - off) : nullptr;
    // A message begins with its first byte, unless that may be the CR of an empty line.
    auto maybe_begin = [&] {
      if (trailers || in_message_ || (base == 0 && start == in.size())) return;
      char first = base > 0 ? head_buf_[0] : in[start];
      if (first != '\r') BeginMessage();
    };
    if (found == nullptr) {
      if (start == in.size()) return in.size();
      maybe_begin();
      if (!CheckPartialHeadLimits(base + (in.size() - start), trailers)) return start;
      head_buf_.append(in.data() + start, in.size() - start);
      return in.size();
    }
    size_t nl = static_cast<size_t>(static_cast<const char*>(found) - in.data());
    off = nl + 1;
    size_t line_end = base + (off - start);  // head offset just past the LF
    size_t line_len = line_end - line_start_;
    // The checks a partial line gets, first, so the outcome does not depend on where reads split.
    maybe_begin();
    if (!CheckPartialHeadLimits(line_end - 1, trailers)) return off;
    char before_lf = nl > start ? in[nl - 1] : (base > 0 ? head_buf_.back() : '\0');
    if (line_len < 2 || before_lf != '\r') {
      if (!trailers && !in_message_) BeginMessage();
      Fail(400, "bare LF: lines must end in CRLF");
      return off;
    }
    if (line_len == 2) {
      if (!trailers && head_lines_ == 0) {
        // RFC 9112 §2.2: ignore empty lines before a start line (left over after a body).
        head_buf_.clear();
        base = 0;
        start = off;
        line_start_ = 0;
        continue;
      }
      std::string_view block;
      if (base == 0) {
        block = in.substr(start, off - start);
      } else {
        head_buf_.append(in.data() + start, off - start);
        block = head_buf_;
      }
      line_start_ = 0;
      head_lines_ = 0;
      if (trailers) {
        ParseTrailers(block);
      } else {
        ParseHead(block);
      }
      head_buf_.clear();
      return off;
    }
    if (!trailers && !in_message_) BeginMessage();
    ++head_lines_;
    size_t max_lines = trailers ? options_.max_header_count : options_.max_header_count + 1;
    if (head_lines_ > max_lines) {
      Fail(431, trailers ? "too many trailer fields" : "too many header fields");
      return off;
    }
    if (!trailers && type_ == Http1MessageType::kRequest && head_lines_ == 1 &&
        line_len > options_.max_url_length + kStartLineSlack) {
      Fail(414, "request line too long");
      return off;
    }
    if (line_end > options_.max_header_bytes) {
      Fail(431, trailers ? "trailer section too large" : "header section too large");
      return off;
    }
    line_start_ = line_end;
  }
}

void Http1Parser::ParseHead(std::string_view block) {
  HeaderMap headers;
  HeadScratch scratch;
  info_ = Http1MessageInfo{};
  bool first = true;
  size_t pos = 0;
  while (true) {
    size_t nl = block.find('\n', pos);  // present: ConsumeHead checked every line
    std::string_view line = block.substr(pos, nl - 1 - pos);
    pos = nl + 1;
    if (line.empty()) break;
    bool ok;
    if (first) {
      ok = type_ == Http1MessageType::kRequest ? ParseRequestLine(line, headers, scratch)
                                               : ParseStatusLine(line, headers);
      first = false;
    } else {
      ok = ParseFieldLine(line, headers, &scratch);
    }
    if (!ok) return;
  }
  bool ok = type_ == Http1MessageType::kRequest ? DecideRequestFraming(headers, scratch)
                                                : DecideResponseFraming(headers, scratch);
  if (!ok) return;
  visitor_.OnHeadersComplete(std::move(headers), info_);
  StartBody();
}

void Http1Parser::ParseTrailers(std::string_view block) {
  HeaderMap trailers;
  size_t pos = 0;
  while (true) {
    size_t nl = block.find('\n', pos);
    std::string_view line = block.substr(pos, nl - 1 - pos);
    pos = nl + 1;
    if (line.empty()) break;
    if (!ParseFieldLine(line, trailers, nullptr)) return;
  }
  // RFC 9110 §6.5.1: framing and routing fields must not come late, where a peer that merges
  // trailers into the head could be fooled.
  if (trailers.Has("content-length") || trailers.Has("transfer-encoding") || trailers.Has("host")) {
    Fail(400, "framing or Host field in trailers");
    return;
  }
  if (!trailers.empty()) visitor_.OnTrailers(std::move(trailers));
  CompleteMessage();
}

bool Http1Parser::ParseRequestLine(std::string_view line, HeaderMap& headers,
                                   HeadScratch& scratch) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    Fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!chars::IsToken(method)) {
    Fail(400, "invalid method");
    return false;
  }
  if (target.empty()) {
    Fail(400, "empty request-target");
    return false;
  }
  if (target.size() > options_.max_url_length) {
    Fail(414, "request-target too long");
    return false;
  }
  int minor = ParseVersion(version);
  if (minor == -1) {
    Fail(400, "invalid HTTP version");
    return false;
  }
  if (minor == -2) {
    Fail(505, "HTTP version not supported");
    return false;
  }
  info_.version_minor = minor;

  headers.Add(":method", std::string(method));
  if (method == "CONNECT") {
    if (!IsAuthorityForm(target)) {
      Fail(400, "CONNECT needs an authority-form target (host:port)");
      return false;
    }
    info_.connect = true;
    scratch.authority_index = 1;
    scratch.authority_from_target = true;
    headers.Add(":authority", std::string(target));
    return true;
  }

  std::string_view scheme = "http";
  std::string_view authority;
  std::string_view path = target;
  std::string scheme_lower;
  if (target == "*") {
    if (method != "OPTIONS") {
      Fail(400, "asterisk-form target is only for OPTIONS");
      return false;
    }
  } else if (target[0] == '/') {
    if (!chars::IsUriPart(target, chars::kTarget)) {
      Fail(400, "invalid character in request-target");
      return false;
    }
  } else {
    // absolute-form: scheme "://" authority [path-abempty] ["?" query] (RFC 9112 §3.2.2).
    size_t colon = target.find(':');
    std::string_view uri_scheme = target.substr(0, colon);
    if (colon == std::string_view::npos || uri_scheme.empty() || !chars::IsAlpha(uri_scheme[0]) ||
        target.substr(colon, 3) != "://") {
      Fail(400, "invalid request-target");
      return false;
    }
    for (char c : uri_scheme) {
      if (!At(chars::kScheme, c)) {
        Fail(400, "invalid request-target scheme");
        return false;
      }
    }
    std::string_view rest = target.substr(colon + 3);
    size_t authority_end = rest.find_first_of("/?");
    authority = rest.substr(0, authority_end);
    path =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    if (authority.empty() || !chars::IsUriPart(authority, chars::kAuthority) ||
        !chars::IsUriPart(path, chars::kTarget)) {
      Fail(400, "invalid character in request-target");
      return false;
    }
    scheme_lower = LowerCopy(uri_scheme);
    scheme = scheme_lower;
    scratch.authority_from_target = true;
  }
  headers.Add(":scheme", std::string(scheme));
  scratch.authority_index = 2;
  headers.Add(":authority", std::string(authority));
  if (path.empty()) {
    // RFC 9112 §3.2.4: an empty path stands for "*" in OPTIONS and "/" otherwise.
    headers.Add(":path", method == "OPTIONS" ? "*" : "/");
  } else if (path[0] == '?') {
    std::string p;
    p.reserve(path.size() + 1);
    p += '/';
    p += path;
    headers.Add(":path", std::move(p));
  } else {
    headers.Add(":path", std::string(path));
  }
  return true;
}

bool Http1Parser::ParseStatusLine(std::string_view line, HeaderMap& headers) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]; the reason is ignored, and a
  // missing SP after the code is tolerated (servers that send "HTTP/1.1 200" exist).
  int minor = line.size() >= 12 ? ParseVersion(line.substr(0, 8)) : -1;
  if (minor < 0 || line[8] != ' ' || !chars::IsDigit(line[9]) || !chars::IsDigit(line[10]) ||
      !chars::IsDigit(line[11]) || (line.size() > 12 && line[12] != ' ')) {
    Fail(502, "malformed status line");
    return false;
  }
  if (!chars::IsFieldValue(line.substr(12))) {
    Fail(502, "invalid character in reason phrase");
    return false;
  }
  int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 100 || status > 599) {
    Fail(502, "invalid status code");
    return false;
  }
  info_.version_minor = minor;
  info_.status_code = status;
  headers.Add(":status", std::string(line.substr(9, 3)));
  return true;
}

bool Http1Parser::ParseFieldLine(std::string_view line, HeaderMap& headers, HeadScratch* scratch) {
  if (chars::IsOws(line[0])) {
    Fail(400, "obsolete line folding is not allowed");
    return false;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    Fail(400, "header line without a colon");
    return false;
  }
  std::string_view name = line.substr(0, colon);
  if (name.empty()) {
    Fail(400, "empty header name");
    return false;
  }
  // Checked and lower-cased in one pass over the name's only copy.
  std::string lower_name(name);
  for (char& c : lower_name) {
    if (!At(chars::kTchar, c)) {
      Fail(400, chars::IsOws(c) ? "whitespace between header name and colon"
                                : "invalid character in header name");
      return false;
    }
    c = chars::ToLower(c);
  }
  std::string_view raw_value = line.substr(colon + 1);
  if (!chars::IsFieldValue(raw_value)) {
    Fail(400, "invalid character in header value");
    return false;
  }
  std::string_view value = chars::TrimOws(raw_value);

  if (scratch != nullptr) {
    // The few fields that decide framing and routing, recognised by length first.
    const bool request = type_ == Http1MessageType::kRequest;
    switch (lower_name.size()) {
      case 4:
        if (request && lower_name == "host") {
          ++scratch->host_count;
          if (!chars::IsUriPart(value, chars::kAuthority)) {
            Fail(400, "invalid Host header");
            return false;
          }
          // Host becomes ":authority" (unless the target carried one) and is not kept twice.
          if (!scratch->authority_from_target && scratch->host_count == 1) {
            auto it = headers.begin() + static_cast<std::ptrdiff_t>(scratch->authority_index);
            it->value.assign(value.data(), value.size());
          }
          return true;
        }
        break;
      case 6:
        if (request && lower_name == "expect" && EqualsIgnoreCase(value, "100-continue")) {
          scratch->expect_continue = true;
        }
        break;
      case 7:
        if (lower_name == "upgrade") scratch->has_upgrade = true;
        break;
      case 10:
        if (lower_name == "connection") {
          chars::ForEachListElement(value, [&](std::string_view token) {
            if (EqualsIgnoreCase(token, "close")) scratch->conn_close = true;
            if (EqualsIgnoreCase(token, "keep-alive")) scratch->conn_keep_alive = true;
            if (EqualsIgnoreCase(token, "upgrade")) scratch->conn_upgrade = true;
            return true;
          });
        }
        break;
      case 14:
        if (lower_name == "content-length") {
          uint64_t length = 0;
          switch (ParseContentLength(value, length)) {
            case ContentLengthResult::kInvalid:
              Fail(400, "invalid Content-Length");
              return false;
            case ContentLengthResult::kDiffering:
              Fail(400, "differing Content-Length values");
              return false;
            case ContentLengthResult::kOk:
              break;
          }
          if (scratch->has_content_length) {
            if (length != scratch->content_length) {
              Fail(400, "differing Content-Length values");
              return false;
            }
            return true;  // an identical repeat collapses into the first
          }
          scratch->has_content_length = true;
          scratch->content_length = length;
          // Stored normalised ("5, 5" -> "5") so whoever forwards it sends one value.
          char digits[24];
          char* end = digits + sizeof(digits);
          char* p = end;
          do {
            *--p = static_cast<char>('0' + length % 10);
            length /= 10;
          } while (length != 0);
          headers.Add(std::move(lower_name), std::string(p, static_cast<size_t>(end - p)));
          return true;
        }
        break;
      case 17:
        if (lower_name == "transfer-encoding") {
          scratch->has_transfer_encoding = true;
          bool valid = chars::ForEachListElement(value, [&](std::string_view coding) {
            // A coding may carry parameters (";q=..." is TE's, but be liberal in what is skipped).
            std::string_view name_part = chars::TrimOws(coding.substr(0, coding.find(';')));
            if (!chars::IsToken(name_part)) return false;
            if (scratch->te_last_is_chunked) scratch->te_chunked_not_last = true;
            scratch->te_last_is_chunked = EqualsIgnoreCase(name_part, "chunked");
            if (!scratch->te_last_is_chunked) {
              std::string lowered = LowerCopy(name_part);
              if (!IsKnownTransferCoding(lowered)) scratch->te_unknown = true;
            }
            return true;
          });
          if (!valid) {
            Fail(400, "invalid Transfer-Encoding");
            return false;
          }
        }
        break;
      default:
        break;
    }
  }
  headers.Add(std::move(lower_name), std::string(value));
  return true;
}

bool Http1Parser::DecideRequestFraming(HeaderMap& headers, HeadScratch& scratch) {
  const bool http11 = info_.version_minor == 1;
  if (scratch.host_count > 1) {
    Fail(400, "multiple Host headers");
    return false;
  }
  if (http11 && scratch.host_count == 0) {
    Fail(400, "missing Host header");
    return false;
  }
  if (scratch.host_count == 0 && !scratch.authority_from_target) headers.Remove(":authority");

  if (scratch.has_transfer_encoding) {
    // RFC 9112 §6.1 and §6.3 (3, 4).
    if (!http11) {
      Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (!scratch.te_last_is_chunked || scratch.te_chunked_not_last) {
      Fail(400, "Transfer-Encoding must end in chunked, applied once");
      return false;
    }
    if (scratch.te_unknown) {
      Fail(501, "unsupported transfer coding");
      return false;
    }
    if (scratch.has_content_length) {
      if (!options_.allow_chunked_length) {
        Fail(400, "both Content-Length and Transfer-Encoding");
        return false;
      }
      headers.Remove("content-length");
    }
    info_.framing = BodyFraming::kChunked;
  } else if (scratch.has_content_length) {
    info_.framing = BodyFraming::kContentLength;
    info_.content_length = scratch.content_length;
  }
  info_.keep_alive =
      http11 ? !scratch.conn_close : (scratch.conn_keep_alive && !scratch.conn_close);
  info_.expect_continue = http11 && scratch.expect_continue;
  // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored.
  info_.upgrade = http11 && !info_.connect && scratch.has_upgrade && scratch.conn_upgrade;
  return true;
}

bool Http1Parser::DecideResponseFraming(HeaderMap& headers, HeadScratch& scratch) {
  const int status = info_.status_code;
  const bool http11 = info_.version_minor == 1;
  const bool final_response = status >= 200 || status == 101;
  RequestMethodKind method =
      pending_count_ > 0 ? pending_methods_[pending_head_] : RequestMethodKind::kOther;
  if (final_response && pending_count_ > 0) {
    pending_head_ = (pending_head_ + 1) % kMaxPendingRequests;
    --pending_count_;
  }

  if (scratch.has_transfer_encoding) {
    if (!http11) {
      Fail(502, "Transfer-Encoding in an HTTP/1.0 response");
      return false;
    }
    if (scratch.te_chunked_not_last) {
      Fail(502, "chunked must be the final transfer coding, applied once");
      return false;
    }
    if (scratch.has_content_length) {
      if (!options_.allow_chunked_length) {
        Fail(502, "both Content-Length and Transfer-Encoding");
        return false;
      }
      headers.Remove("content-length");
      scratch.has_content_length = false;
    }
  }
  info_.keep_alive =
      http11 ? !scratch.conn_close : (scratch.conn_keep_alive && !scratch.conn_close);

  // RFC 9112 §6.3, in its order.
  if (status < 200) {
    info_.upgrade = status == 101;
  } else if (method == RequestMethodKind::kConnect && status < 300) {
    info_.connect = true;
  } else if (method == RequestMethodKind::kHead || status == 204 || status == 304) {
    // No body, whatever the framing fields say.
  } else if (scratch.has_transfer_encoding) {
    if (scratch.te_last_is_chunked) {
      info_.framing = BodyFraming::kChunked;
    } else {
      info_.framing = BodyFraming::kUntilClose;
      info_.keep_alive = false;
    }
  } else if (scratch.has_content_length) {
    info_.framing = BodyFraming::kContentLength;
    info_.content_length = scratch.content_length;
  } else {
    info_.framing = BodyFraming::kUntilClose;
    info_.keep_alive = false;
  }
  return true;
}

void Http1Parser::StartBody() {
  switch (info_.framing) {
    case BodyFraming::kNone:
      CompleteMessage();
      break;
    case BodyFraming::kContentLength:
      if (info_.content_length == 0) {
        CompleteMessage();
      } else {
        remaining_ = info_.content_length;
        state_ = State::kBodyLength;
      }
      break;
    case BodyFraming::kChunked:
      state_ = State::kChunkLine;
      chunk_line_state_ = ChunkLineState::kSize;
      chunk_line_len_ = 0;
      chunk_digits_ = 0;
      remaining_ = 0;
      break;
    case BodyFraming::kUntilClose:
      state_ = State::kBodyUntilEof;
      break;
  }
}

// chunk = chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
// Extensions are skipped (only checked for control characters).
size_t Http1Parser::ConsumeChunkLine(std::string_view in) {
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (++chunk_line_len_ > options_.max_chunk_line_length) {
      Fail(400, "chunk size line too long");
      return i;
    }
    if (c == '\n' && chunk_line_state_ != ChunkLineState::kLf) {
      Fail(400, "bare LF: chunk size line not ended by CRLF");
      return i;
    }
    switch (chunk_line_state_) {
      case ChunkLineState::kSize: {
        int digit = chars::kHexValue[static_cast<unsigned char>(c)];
        if (digit >= 0) {
          if (remaining_ > (kMaxBodyLength >> 4)) {
            Fail(400, "chunk size overflow");
            return i;
          }
          remaining_ = (remaining_ << 4) | static_cast<uint64_t>(digit);
          ++chunk_digits_;
          break;
        }
        if (chunk_digits_ == 0) {
          Fail(400, "invalid chunk size");
          return i;
        }
        if (c == '\r') {
          chunk_line_state_ = ChunkLineState::kLf;
        } else if (c == ';') {
          chunk_line_state_ = ChunkLineState::kExtension;
        } else if (chars::IsOws(c)) {
          chunk_line_state_ = ChunkLineState::kSpace;
        } else {
          Fail(400, "invalid chunk size");
          return i;
        }
        break;
      }
      case ChunkLineState::kSpace:
        if (c == ';') {
          chunk_line_state_ = ChunkLineState::kExtension;
        } else if (!chars::IsOws(c)) {
          Fail(400, "invalid chunk size");
          return i;
        }
        break;
      case ChunkLineState::kExtension:
        if (c == '\r') {
          chunk_line_state_ = ChunkLineState::kLf;
        } else if (!At(chars::kFieldValue, c)) {
          Fail(400, "invalid character in chunk extension");
          return i;
        }
        break;
      case ChunkLineState::kLf:
        if (c != '\n') {
          Fail(400, "chunk size line not ended by CRLF");
          return i;
        }
        if (remaining_ == 0) {
          state_ = State::kTrailers;
          line_start_ = 0;
          head_lines_ = 0;
        } else {
          state_ = State::kChunkData;
        }
        return i + 1;
    }
  }
  return in.size();
}

void Http1Parser::CompleteMessage() {
  // The state is settled before the callback so the visitor sees the parser as it will stay.
  in_message_ = false;
  state_ = State::kHead;
  line_start_ = 0;
  head_lines_ = 0;
  if (type_ == Http1MessageType::kRequest) {
    if (info_.upgrade || info_.connect) {
      state_ = State::kPaused;
    } else if (!info_.keep_alive) {
      state_ = State::kClosed;
    }
  } else {
    if (info_.upgrade || info_.connect) {
      state_ = State::kUpgraded;
    } else if (info_.status_code >= 200 && !info_.keep_alive) {
      state_ = State::kClosed;
    }
  }
  visitor_.OnMessageComplete();
}

}  // namespace weft::http
