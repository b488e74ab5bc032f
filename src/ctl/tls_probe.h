// A TLS handshake with one of weftd's TLS ports, verified as a sidecar verifies it: the chain
// against the mesh root and the server's name. verify-install uses it to prove the CA port
// works, not merely that it accepts TCP.
#pragma once

#include <chrono>
#include <string>

namespace weft::ctl {

struct TlsProbe {
  bool ok = false;
  // ok: "TLS 1.3, certificate for <name> valid until <date>"; else why the handshake failed
  // (the verification error, the TLS alert, or the socket's error).
  std::string detail;
};

// Connects to `address` (HOST:PORT), offers SNI `server_name` and ALPN h2 (gRPC), and verifies
// the presented chain against the PEM bundle `root_pem` and the name `server_name`.
TlsProbe ProbeTls(const std::string& address, const std::string& root_pem,
                  const std::string& server_name, std::chrono::seconds timeout);

}  // namespace weft::ctl
