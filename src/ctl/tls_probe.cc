#include "ctl/tls_probe.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>

#include "ctl/weftd_process.h"
#include "security/openssl_util.h"

namespace weft::ctl {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string OpenSslError(const std::string& what) { return what + ": " + security::OpenSslError(); }

std::string NotAfter(X509* cert) {
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out || ASN1_TIME_print(out.get(), X509_get0_notAfter(cert)) != 1) return "?";
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

TlsProbe ProbeTls(const std::string& address, const std::string& root_pem,
                  const std::string& server_name, std::chrono::seconds timeout) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return {false, OpenSslError("SSL_CTX_new")};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), root_pem.c_str(), nullptr) != 1) {
    return {false, OpenSslError("mesh root " + root_pem)};
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // gRPC over TLS negotiates h2 (RFC 7540 section 3.3).
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));

  const int fd = ConnectTcp(address);
  if (fd < 0) return {false, "does not accept connections"};
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    close(fd);
    return {false, OpenSslError("SSL_new")};
  }
  SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
  SSL_set1_host(ssl.get(), server_name.c_str());
  TlsProbe result;
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    result.detail = verify != X509_V_OK
                        ? std::string("certificate not verified against the mesh root: ") +
                              X509_verify_cert_error_string(verify)
                        : OpenSslError("TLS handshake failed");
  } else if (X509* cert = SSL_get0_peer_certificate(ssl.get()); cert == nullptr) {
    result.detail = "no certificate presented";
  } else {
    result.ok = true;
    result.detail = std::string(SSL_get_version(ssl.get())) + ", certificate for " + server_name +
                    " valid until " + NotAfter(cert);
    SSL_shutdown(ssl.get());
  }
  ssl.reset();
  close(fd);
  return result;
}

}  // namespace weft::ctl
