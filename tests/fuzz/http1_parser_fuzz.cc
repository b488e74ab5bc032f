// libFuzzer target for the HTTP/1 parser and serializer.
//
// Input: byte 0 = flags (bit 0: parse responses, bit 1: allow_chunked_length, bit 2: the first
// response answers HEAD, bit 3: it answers CONNECT), byte 1 = seed of the random slicing, the rest
// = bytes off the wire. Invariants checked (any violation aborts, which libFuzzer reports):
//   1. no crash or sanitizer report, events in a legal order;
//   2. the same events whether the bytes arrive whole or in random slices;
//   3. a Content-Length body delivers exactly Content-Length bytes (never more);
//   4. the complete messages re-serialized and re-parsed are identical.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "unit/http/http1_test_util.h"

namespace {

using weft::http::BodyFraming;
using weft::http::Http1MessageType;
using weft::http::Http1Parser;
using weft::http::Http1ParserOptions;
using weft::http::testing::ParsedMessage;
using weft::http::testing::RecordingVisitor;
using weft::http::testing::Reserialize;
using weft::http::testing::SameHeaders;

[[noreturn]] void Violation(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

struct Setup {
  Http1MessageType type;
  Http1ParserOptions options;
  bool head_first;
  bool connect_first;
};

struct Run {
  RecordingVisitor visitor;
  size_t consumed = 0;
};

void Prepare(Http1Parser& parser, const Setup& setup) {
  if (setup.type != Http1MessageType::kResponse) return;
  if (setup.head_first) parser.PushRequestMethod("HEAD");
  if (setup.connect_first) parser.PushRequestMethod("CONNECT");
}

void ParseWhole(const Setup& setup, std::string_view wire, Run& run) {
  Http1Parser parser(setup.type, run.visitor, setup.options);
  Prepare(parser, setup);
  run.consumed = parser.Execute(wire);
  if (run.consumed == wire.size()) parser.OnEof();
}

// Random slice sizes from a small xorshift generator seeded by the input.
void ParseSliced(const Setup& setup, std::string_view wire, uint8_t seed, Run& run) {
  Http1Parser parser(setup.type, run.visitor, setup.options);
  Prepare(parser, setup);
  uint32_t state = 0x9e3779b9u ^ (static_cast<uint32_t>(seed) * 0x01000193u);
  size_t off = 0;
  while (off < wire.size()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t len = (state % 8 == 0) ? 1 + state % 256 : 1 + state % 7;
    std::string_view slice = wire.substr(off, len);
    size_t n = parser.Execute(slice);
    if (n > slice.size()) Violation("consumed more than given");
    off += n;
    if (n < slice.size()) break;
  }
  run.consumed = off;
  if (run.consumed == wire.size()) parser.OnEof();
}

bool SameMessage(const ParsedMessage& a, const ParsedMessage& b, bool ignore_scheme) {
  return a.headers_complete == b.headers_complete && a.complete == b.complete &&
         SameHeaders(a.headers, b.headers, ignore_scheme) && a.body == b.body &&
         a.trailers.has_value() == b.trailers.has_value() &&
         (!a.trailers || SameHeaders(*a.trailers, *b.trailers)) &&
         a.info.version_minor == b.info.version_minor && a.info.status_code == b.info.status_code &&
         a.info.framing == b.info.framing && a.info.content_length == b.info.content_length &&
         a.info.keep_alive == b.info.keep_alive &&
         a.info.expect_continue == b.info.expect_continue && a.info.upgrade == b.info.upgrade &&
         a.info.connect == b.info.connect;
}

void CheckOrderAndBodies(const Run& run) {
  if (!run.visitor.order_violation.empty()) Violation("event order", run.visitor.order_violation);
  if (run.visitor.error) {
    int code = run.visitor.error->status_code;
    if (code != 400 && code != 414 && code != 431 && code != 501 && code != 505 && code != 502) {
      Violation("unexpected error status");
    }
    if (run.visitor.error->reason.empty()) Violation("error without a reason");
  }
  for (const ParsedMessage& m : run.visitor.messages) {
    if (m.info.framing == BodyFraming::kContentLength) {
      if (m.body.size() > m.info.content_length) Violation("body longer than Content-Length");
      if (m.complete && m.body.size() != m.info.content_length) {
        Violation("complete body shorter than Content-Length");
      }
    }
    if (m.info.framing == BodyFraming::kNone && !m.body.empty()) Violation("body without framing");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const uint8_t seed = data[1];
  std::string_view wire(reinterpret_cast<const char*>(data + 2), size - 2);

  Setup setup{(flags & 1) ? Http1MessageType::kResponse : Http1MessageType::kRequest,
              {},
              (flags & 4) != 0,
              (flags & 8) != 0};
  setup.options.allow_chunked_length = (flags & 2) != 0;
  // Small limits so the fuzzer reaches them.
  setup.options.max_header_count = 20;
  setup.options.max_header_bytes = 1024;
  setup.options.max_url_length = 256;
  setup.options.max_chunk_line_length = 64;

  Run whole;
  ParseWhole(setup, wire, whole);
  CheckOrderAndBodies(whole);

  Run sliced;
  ParseSliced(setup, wire, seed, sliced);
  CheckOrderAndBodies(sliced);
  // Where an error stops consumption depends on the slicing; otherwise it must not.
  if (!whole.visitor.error && whole.consumed != sliced.consumed) {
    Violation("consumed differs by slicing");
  }
  if (whole.visitor.error.has_value() != sliced.visitor.error.has_value() ||
      (whole.visitor.error &&
       (whole.visitor.error->status_code != sliced.visitor.error->status_code ||
        whole.visitor.error->reason != sliced.visitor.error->reason))) {
    std::string detail = "whole: ";
    detail += whole.visitor.error ? whole.visitor.error->reason : "none";
    detail += " / sliced: ";
    detail += sliced.visitor.error ? sliced.visitor.error->reason : "none";
    Violation("error differs by slicing", detail);
  }
  if (whole.visitor.messages.size() != sliced.visitor.messages.size()) {
    Violation("message count differs by slicing");
  }
  for (size_t i = 0; i < whole.visitor.messages.size(); ++i) {
    if (!SameMessage(whole.visitor.messages[i], sliced.visitor.messages[i], false)) {
      Violation("message differs by slicing");
    }
  }

  // Round trip of the complete messages.
  std::string again;
  size_t complete = 0;
  for (const ParsedMessage& m : whole.visitor.messages) {
    if (!m.complete) break;
    if (!Reserialize(setup.type, m, again)) Violation("serializer refused a parsed message");
    ++complete;
  }
  if (complete == 0) return 0;
  // Re-serialized heads can be longer ("a:b" becomes "a: b", a reason phrase is added), so the
  // re-parse gets the default limits.
  Setup reparse_setup = setup;
  reparse_setup.options = Http1ParserOptions{};
  reparse_setup.options.allow_chunked_length = setup.options.allow_chunked_length;
  Run reparsed;
  ParseWhole(reparse_setup, again, reparsed);
  CheckOrderAndBodies(reparsed);
  if (reparsed.visitor.error)
    Violation("re-serialized message refused", reparsed.visitor.error->reason);
  if (reparsed.visitor.messages.size() != complete) Violation("re-parse message count", again);
  for (size_t i = 0; i < complete; ++i) {
    // Origin-form is written, so an absolute-form's scheme does not survive.
    if (!SameMessage(whole.visitor.messages[i], reparsed.visitor.messages[i], true)) {
      Violation("re-parsed message differs", again);
    }
  }
  return 0;
}
