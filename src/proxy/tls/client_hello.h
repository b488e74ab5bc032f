// What Envoy's envoy.filters.listener.tls_inspector learns from a connection's first bytes: is it
// a TLS ClientHello, and if so the SNI and the ALPN protocols it offers. A pure function over
// bytes (no OpenSSL, no I/O), so the worker can run it on bytes it has read but not yet consumed,
// and a fuzzer can run it on anything.
//
// Formats: RFC 8446 §5.1 (TLSPlaintext records), §4.1.2 (ClientHello), RFC 6066 §3 (server_name
// extension, type 0), RFC 7301 §3.1 (application_layer_protocol_negotiation, type 16).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace weft::tls {

// The largest ClientHello (handshake message body) the inspector waits for. Envoy's
// tls_inspector bounds it to 64 KiB (TLS_MAX_CLIENT_HELLO); a larger one is refused.
inline constexpr size_t kMaxClientHelloSize = 64 * 1024;

enum class ClientHelloResult {
  kNeedMoreData,  // could still be a ClientHello: read more bytes
  kNotTls,        // not a (parsable) TLS ClientHello: plaintext, SSLv2, garbage
  kTls,           // a ClientHello: `sni` and `alpn` filled in
  kTooLarge,      // claims more than kMaxClientHelloSize: Envoy closes such connections
};

struct ClientHelloInfo {
  std::string sni;                // host_name from server_name, lower-cased; "" if absent
  std::vector<std::string> alpn;  // the offered protocols, in the client's order
};

// Parses the start of a connection. The ClientHello may span several handshake records.
ClientHelloResult ParseClientHello(std::string_view first_bytes, ClientHelloInfo& info);

}  // namespace weft::tls
