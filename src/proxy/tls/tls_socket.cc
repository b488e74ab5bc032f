#include "proxy/tls/tls_socket.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "proxy/router/route_matcher.h"

namespace weft::tls {

namespace {

constexpr size_t kChunk = 16 * 1024;

bool SansMatch(const std::vector<SanMatcher>& matchers, const CertificateSans& sans) {
  if (matchers.empty()) return true;
  // Any matcher matching any SAN of its type accepts the peer (Envoy's semantics).
  for (const SanMatcher& m : matchers) {
    if (m.type != SanMatcher::Type::kDns) {
      for (const auto& v : sans.uris) {
        if (router::MatchString(m.matcher, v)) return true;
      }
    }
    if (m.type != SanMatcher::Type::kUri) {
      for (const auto& v : sans.dnss) {
        if (router::MatchString(m.matcher, v)) return true;
      }
    }
  }
  return false;
}

long WireCtrl(BIO*, int cmd, long, void*) {
  // Writes land in the Connection's buffer at once: a flush has nothing left to do. Every other
  // control (pending counts, kTLS, EOF) has no meaning here.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int WireCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// %DOWNSTREAM_PEER_SUBJECT%: Envoy prints the subject in RFC 2253 form ("CN=client,O=acme").
std::string SubjectRfc2253(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  std::string out;
  if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0) out.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return out;
}

// Empties the thread's error queue before an SSL call, as SSL_get_error requires (it reads
// ERR_peek_error first), but only when the queue holds something: ERR_clear_error always rewrites
// all 16 slots of the queue, ~840 instructions in OpenSSL 3.0 (callgrind, server side of a
// keep-alive mTLS pair: 1.7k of the ~16k instructions mTLS adds per request), and the queue is
// almost always empty; ERR_peek_error only looks.
void ClearErrorQueue() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

std::string ErrorQueueText() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

}  // namespace

// The BIO under every TlsSocket's SSL: reads take ciphertext straight from the Connection's
// wire_read buffer and writes append straight to its wire_write buffer. Two memory BIOs cost a
// copy each way plus a BIO_ctrl_pending/BIO_read round trip per flush (callgrind, server side of
// a keep-alive mTLS pair: ~2.5k instructions per request). The BIO's data is the socket's
// WireBuffers (wire_), set by a WireScope for each call into OpenSSL.
BIO_METHOD* TlsSocket::WireMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft wire");
    BIO_meth_set_read(m, WireRead);
    BIO_meth_set_write(m, WireWrite);
    BIO_meth_set_ctrl(m, WireCtrl);
    BIO_meth_set_create(m, WireCreate);
    return m;
  }();
  return method;
}

// An empty input is "retry" (WANT_READ: wait for more wire bytes), not EOF.
int TlsSocket::WireRead(BIO* bio, char* dst, int size) {
  network::Buffer* in = static_cast<WireBuffers*>(BIO_get_data(bio))->in;
  BIO_clear_retry_flags(bio);
  if (in == nullptr || in->empty() || size <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  size_t n = std::min(static_cast<size_t>(size), in->length());
  std::memcpy(dst, in->data(), n);
  in->Drain(n);
  return static_cast<int>(n);
}

int TlsSocket::WireWrite(BIO* bio, const char* src, int size) {
  network::Buffer* out = static_cast<WireBuffers*>(BIO_get_data(bio))->out;
  BIO_clear_retry_flags(bio);
  if (out == nullptr) {  // outside a TlsSocket call: cannot happen, but never lose bytes
    BIO_set_retry_write(bio);
    return -1;
  }
  out->Append(std::string_view(src, static_cast<size_t>(size)));
  return size;
}

// Points the socket's BIO at the wire buffers of one call, and away again when it returns.
class TlsSocket::WireScope {
 public:
  WireScope(TlsSocket& socket, network::Buffer* in, network::Buffer* out) : wire_(socket.wire_) {
    wire_ = {in, out};
  }
  ~WireScope() { wire_ = {}; }
  WireScope(const WireScope&) = delete;
  WireScope& operator=(const WireScope&) = delete;

 private:
  WireBuffers& wire_;
};

TlsSocket::TlsSocket(std::shared_ptr<const SslContext> context, const TlsStats* stats,
                     std::shared_ptr<SessionCache> sessions)
    : context_(std::move(context)), stats_(stats), sessions_(std::move(sessions)) {
  ssl_ = SSL_new(context_->ctx());
  BIO* wire = BIO_new(WireMethod());
  BIO_set_data(wire, &wire_);
  SSL_set_bio(ssl_, wire, wire);  // one BIO for both directions; the SSL owns it
  SSL_set_app_data(ssl_, this);
  const TlsContextConfig& config = context_->config();
  if (config.server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    if (!config.sni.empty()) SSL_set_tlsext_host_name(ssl_, config.sni.c_str());
    if (sessions_) {
      if (SSL_SESSION* last = sessions_->SessionFor(context_.get())) SSL_set_session(ssl_, last);
    }
  }
}

int TlsSocket::NewSessionCallback(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsSocket*>(SSL_get_app_data(ssl));
  if (self == nullptr || !self->sessions_) return 0;  // not kept: OpenSSL frees it
  self->sessions_->Store(session, self->context_);
  return 1;  // the cache owns it now
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

int TlsSocket::VerifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = static_cast<TlsSocket*>(SSL_get_app_data(ssl));
  if (self == nullptr) return preverify_ok;
  // trust_chain_verification ACCEPT_UNTRUSTED: chain errors are let through; the SAN matchers
  // below still decide.
  if (!preverify_ok && !self->context_->config().accept_untrusted) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (leaf == nullptr) return preverify_ok;
  if (!SansMatch(self->context_->config().san_matchers, ReadSans(leaf))) {
    self->san_mismatch_ = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
  }
  return 1;
}

network::TransportSocket::Result TlsSocket::Fail(const std::string& reason) {
  failure_reason_ = reason;
  if (stats_ != nullptr) {
    stats_->connection_error->Inc();
    if (san_mismatch_)
      stats_->fail_verify_san->Inc();
    else if (SSL_get_verify_result(ssl_) != X509_V_OK)
      stats_->fail_verify_error->Inc();
    if (context_->config().server && SSL_get0_peer_certificate(ssl_) == nullptr &&
        context_->config().require_client_certificate) {
      stats_->no_certificate->Inc();
    }
  }
  return Result::kError;
}

void TlsSocket::RecordPeer() {
  auto info = std::make_shared<network::SecurityInfo>();
  info->tls_version = SSL_get_version(ssl_);
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_)) {
    info->cipher = SSL_CIPHER_get_name(cipher);
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn != nullptr) info->alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) info->sni = sni;
  X509* peer = SSL_get0_peer_certificate(ssl_);
  info->peer_certificate = peer != nullptr;
  if (peer != nullptr) {
    CertificateSans sans = ReadSans(peer);
    if (!sans.uris.empty()) info->peer_uri_san = sans.uris.front();
    info->peer_subject = SubjectRfc2253(peer);
  }
  // Ours, as Envoy's uriSanLocalCertificate() reads it: Istio's client-side source_principal.
  // Every connection of the context holds the same certificate: read once when it was built.
  info->local_uri_san = context_->local_uri_san();
  info_ = std::move(info);
}

network::TransportSocket::Result TlsSocket::DoHandshake() {
  ClearErrorQueue();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    RecordPeer();
    if (stats_ != nullptr) {
      stats_->handshake->Inc();
      if (SSL_session_reused(ssl_) == 1) stats_->session_reused->Inc();
      if (context_->config().server && !info_->peer_certificate) stats_->no_certificate->Inc();
    }
    return Result::kOk;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Result::kOk;
  std::string reason = "TLS handshake failed";
  long verify = SSL_get_verify_result(ssl_);
  if (san_mismatch_) {
    reason += ": peer certificate SAN does not match";
  } else if (verify != X509_V_OK) {
    reason += std::string(": ") + X509_verify_cert_error_string(verify);
  } else if (std::string text = ErrorQueueText(); !text.empty()) {
    reason += ": " + text;
  }
  return Fail(reason);
}

void TlsSocket::StartHandshake(network::Buffer& wire_out) {
  WireScope scope(*this, nullptr, &wire_out);
  DoHandshake();
}

network::TransportSocket::Result TlsSocket::OnWireData(network::Buffer& wire_in,
                                                       network::Buffer& plain_out,
                                                       network::Buffer& wire_out) {
  WireScope scope(*this, &wire_in, &wire_out);
  Result result = Result::kOk;
  if (!handshake_done_) result = DoHandshake();
  if (result == Result::kOk && handshake_done_) {
    // Once, not per SSL_read: OpenSSL queues errors only for a failing call, which ends the loop.
    ClearErrorQueue();
    for (;;) {
      char* dst = plain_out.Reserve(kChunk);
      int n = SSL_read(ssl_, dst, static_cast<int>(plain_out.TailRoom()));
      if (n > 0) {
        plain_out.Commit(static_cast<size_t>(n));
        // Nothing buffered in OpenSSL and no wire bytes left: another SSL_read could only say
        // WANT_READ, and costs about as much as the read of a small record did.
        if (SSL_pending(ssl_) == 0 && wire_in.empty()) break;
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
      if (err == SSL_ERROR_ZERO_RETURN) {
        result = Result::kPeerClosed;
        break;
      }
      failure_reason_ = "TLS read failed: " + ErrorQueueText();
      result = Result::kError;
      break;
    }
  }
  return result;
}

network::TransportSocket::Result TlsSocket::Encrypt(network::Buffer& plain_in,
                                                    network::Buffer& wire_out) {
  WireScope scope(*this, nullptr, &wire_out);
  ClearErrorQueue();
  while (!plain_in.empty()) {
    // The wire buffer grows as needed, so a write never wants to wait.
    int n = SSL_write(ssl_, plain_in.data(), static_cast<int>(plain_in.length()));
    if (n <= 0) {
      failure_reason_ = "TLS write failed: " + ErrorQueueText();
      return Result::kError;
    }
    plain_in.Drain(static_cast<size_t>(n));
  }
  return Result::kOk;
}

void TlsSocket::CloseNotify(network::Buffer& wire_out) {
  WireScope scope(*this, nullptr, &wire_out);
  ClearErrorQueue();
  SSL_shutdown(ssl_);
}

bool SecureConnection(network::Connection& connection, const TlsContext& context,
                      const TlsStats* stats, std::shared_ptr<SessionCache> sessions) {
  std::shared_ptr<const SslContext> current = context.current();
  if (!current) {
    if (stats != nullptr) stats->connection_error->Inc();
    return false;
  }
  connection.SetTransportSocket(
      std::make_unique<TlsSocket>(std::move(current), stats, std::move(sessions)));
  return true;
}

}  // namespace weft::tls
