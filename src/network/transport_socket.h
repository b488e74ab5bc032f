// A byte transform between a Connection's socket and its owner (Envoy's transport socket): TLS
// encrypts what the owner writes and decrypts what the socket reads. The Connection keeps doing
// the socket I/O and flow control; the transport socket only turns wire bytes into plaintext and
// back, through buffers (OpenSSL memory BIOs in proxy/tls), so it never touches the fd.
#pragma once

#include <memory>
#include <string>

#include "network/buffer.h"

namespace weft::network {

// What a secured connection learned in its handshake, for access logs and filters. One immutable
// object per connection, shared (shared_ptr<const>) by every stream of the connection and by the
// access log, which may outlive the connection: a keep-alive request takes a reference instead of
// copying the strings.
struct SecurityInfo {
  std::string tls_version;    // "TLSv1.3"
  std::string alpn;           // negotiated ALPN protocol, "" if none
  std::string sni;            // server name the client asked for
  std::string peer_uri_san;   // first URI SAN of the verified peer certificate
  std::string local_uri_san;  // first URI SAN of the certificate this side holds, "" if none
  std::string cipher;         // negotiated cipher suite, OpenSSL's name: "TLS_AES_128_GCM_SHA256"
  std::string peer_subject;   // the peer certificate's subject, RFC 2253: "CN=client,O=acme"
  bool peer_certificate = false;
};

class TransportSocket {
 public:
  virtual ~TransportSocket() = default;
  enum class Result { kOk, kPeerClosed, kError };
  // Client side: produce the first handshake bytes into `wire_out`.
  virtual void StartHandshake(Buffer& wire_out) = 0;
  // Consumes `wire_in` (ciphertext from the socket), advances the handshake, appends plaintext to
  // `plain_out` and anything to send (handshake, alerts, tickets) to `wire_out`. kPeerClosed: the
  // peer sent close_notify. kError: the connection must close (failure_reason() says why).
  virtual Result OnWireData(Buffer& wire_in, Buffer& plain_out, Buffer& wire_out) = 0;
  // Once the handshake is done: encrypts all of `plain_in` (drained) into `wire_out`.
  virtual Result Encrypt(Buffer& plain_in, Buffer& wire_out) = 0;
  // Our close_notify (half-close of the write direction).
  virtual void CloseNotify(Buffer& wire_out) = 0;
  virtual bool HandshakeDone() const = 0;
  virtual const std::string& failure_reason() const = 0;
  // Set once the handshake is done (null before): immutable from then on.
  virtual const std::shared_ptr<const SecurityInfo>& security_info() const = 0;
};

}  // namespace weft::network
