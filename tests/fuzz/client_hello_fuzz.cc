// libFuzzer target for the tls_inspector's ClientHello parser (src/proxy/tls/client_hello.cc).
//
// Input: bytes off the wire. Invariants checked (any violation aborts, which libFuzzer reports):
//   1. no crash or sanitizer report;
//   2. bytes after a complete ClientHello change nothing, facts come only with kTls, and
//      kNeedMoreData is never answered past the size bound;
//   3. kTls implies the SNI is lower case and every ALPN protocol is non-empty.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/tls/client_hello.h"

namespace {

[[noreturn]] void Violation(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using weft::tls::ClientHelloInfo;
  using weft::tls::ClientHelloResult;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ClientHelloInfo info;
  const ClientHelloResult result = weft::tls::ParseClientHello(bytes, info);
  if (result == ClientHelloResult::kTls) {
    for (char c : info.sni) {
      if (c >= 'A' && c <= 'Z') Violation("SNI not lower-cased");
    }
    for (const auto& p : info.alpn) {
      if (p.empty()) Violation("empty ALPN protocol");
    }
    // Extra bytes after a complete hello (the rest of the flight) change nothing.
    std::string longer(bytes);
    longer.append("\x17\x03\x03\x00\x05hello");
    ClientHelloInfo again;
    if (weft::tls::ParseClientHello(longer, again) != ClientHelloResult::kTls ||
        again.sni != info.sni || again.alpn != info.alpn) {
      Violation("same bytes, different answer");
    }
  } else if (!info.sni.empty() || !info.alpn.empty()) {
    Violation("facts reported without kTls");
  }
  if (result == ClientHelloResult::kNeedMoreData &&
      size > weft::tls::kMaxClientHelloSize + (1u << 14) + 4096) {
    Violation("waits for more than the bound");
  }
  return 0;
}
