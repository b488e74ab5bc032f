// The TLS transport socket of one connection: an SSL over a BIO that reads and writes the
// Connection's wire buffers, so the Connection keeps its own non-blocking socket I/O and this
// class only turns ciphertext into plaintext and back (WANT_READ just means "wait for more wire
// bytes").
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "network/connection.h"
#include "network/transport_socket.h"
#include "proxy/tls/session_cache.h"
#include "proxy/tls/tls_context.h"

namespace weft::tls {

class TlsSocket : public network::TransportSocket {
 public:
  // `stats` may be null; it must outlive the socket (per-worker stats do). `sessions` (client
  // side, optional): the host's last session is offered and each new one stored there.
  TlsSocket(std::shared_ptr<const SslContext> context, const TlsStats* stats,
            std::shared_ptr<SessionCache> sessions = nullptr);
  ~TlsSocket() override;

  void StartHandshake(network::Buffer& wire_out) override;
  Result OnWireData(network::Buffer& wire_in, network::Buffer& plain_out,
                    network::Buffer& wire_out) override;
  Result Encrypt(network::Buffer& plain_in, network::Buffer& wire_out) override;
  void CloseNotify(network::Buffer& wire_out) override;
  bool HandshakeDone() const override { return handshake_done_; }
  const std::string& failure_reason() const override { return failure_reason_; }
  const std::shared_ptr<const network::SecurityInfo>& security_info() const override {
    return info_;
  }

  // SSL_CTX_set_verify's callback: the SAN matchers on the peer's leaf certificate.
  static int VerifyCallback(int preverify_ok, X509_STORE_CTX* store);
  // SSL_CTX_sess_set_new_cb's callback (clients): keeps the session in the host's cache.
  static int NewSessionCallback(SSL* ssl, SSL_SESSION* session);

 private:
  // The wire buffers OpenSSL reads from and writes to, set only while a call into OpenSSL runs.
  struct WireBuffers {
    network::Buffer* in = nullptr;
    network::Buffer* out = nullptr;
  };
  class WireScope;
  static BIO_METHOD* WireMethod();
  static int WireRead(BIO* bio, char* dst, int size);
  static int WireWrite(BIO* bio, const char* src, int size);

  Result DoHandshake();
  Result Fail(const std::string& reason);
  void RecordPeer();

  std::shared_ptr<const SslContext> context_;
  const TlsStats* stats_;
  std::shared_ptr<SessionCache> sessions_;
  SSL* ssl_;
  WireBuffers wire_;
  bool handshake_done_ = false;
  bool san_mismatch_ = false;
  std::string failure_reason_;
  std::shared_ptr<const network::SecurityInfo> info_;  // set by RecordPeer at the handshake
};

// Puts a TLS socket with `context`'s current SSL_CTX under `connection` (before any byte flows).
// False when the context has no SSL_CTX yet (SDS secrets not arrived): the caller closes.
bool SecureConnection(network::Connection& connection, const TlsContext& context,
                      const TlsStats* stats, std::shared_ptr<SessionCache> sessions = nullptr);

}  // namespace weft::tls
