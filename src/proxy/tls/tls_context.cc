#include "proxy/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/tls/tls_socket.h"

namespace weft::tls {

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return text;
}

absl::Status LoadCertificate(SSL_CTX* ctx, const TlsCertificate& cert) {
  BIO* bio =
      BIO_new_mem_buf(cert.cert_chain_pem.data(), static_cast<int>(cert.cert_chain_pem.size()));
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    BIO_free(bio);
    return absl::InvalidArgumentError(
        absl::StrCat("certificate_chain: no PEM certificate (", OpenSslError(), ")"));
  }
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  // The rest of the chain: intermediates sent after the leaf.
  while (ok == 1) {
    X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      ok = 0;
    }
  }
  ERR_clear_error();  // the end of the PEM stream leaves a "no start line" error
  BIO_free(bio);
  if (ok != 1) {
    return absl::InvalidArgumentError(absl::StrCat("certificate_chain: ", OpenSslError()));
  }
  bio = BIO_new_mem_buf(cert.private_key_pem.data(), static_cast<int>(cert.private_key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("private_key: no PEM private key (", OpenSslError(), ")"));
  }
  ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("private_key: does not match the certificate (", OpenSslError(), ")"));
  }
  return absl::OkStatus();
}

absl::Status LoadTrustedCa(SSL_CTX* ctx, const ValidationContext& validation) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* bio = BIO_new_mem_buf(validation.trusted_ca_pem.data(),
                             static_cast<int>(validation.trusted_ca_pem.size()));
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    X509_free(ca);
    ++count;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (count == 0) return absl::InvalidArgumentError("trusted_ca: no PEM certificate");
  return absl::OkStatus();
}

// Server side ALPN: the first of the listener's alpn_protocols the client offers (the server's
// preference, as SSL_select_next_proto does); no overlap means no ALPN, not a failure.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* context = static_cast<const SslContext*>(arg);
  const std::string& ours = context->alpn_wire();
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

TlsStats TlsStats::Create(stats::Store& store, const std::string& prefix) {
  return TlsStats{
      &store.counter(prefix + "ssl.handshake"),
      &store.counter(prefix + "ssl.connection_error"),
      &store.counter(prefix + "ssl.no_certificate"),
      &store.counter(prefix + "ssl.fail_verify_san"),
      &store.counter(prefix + "ssl.fail_verify_error"),
      &store.counter(prefix + "ssl.session_reused"),
  };
}

SslContext::~SslContext() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

CertificateSans ReadSans(X509* cert) {
  CertificateSans out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI && name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s =
        name->type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
    std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
    (name->type == GEN_URI ? out.uris : out.dnss).push_back(std::move(value));
  }
  GENERAL_NAMES_free(names);
  return out;
}

absl::StatusOr<std::shared_ptr<const SslContext>> SslContext::Build(
    std::shared_ptr<const TlsContextConfig> config, const std::optional<TlsCertificate>& cert,
    const std::optional<ValidationContext>& validation) {
  auto context = std::shared_ptr<SslContext>(new SslContext());
  context->config_ = config;
  context->ctx_ = SSL_CTX_new(config->server ? TLS_server_method() : TLS_client_method());
  if (context->ctx_ == nullptr) return absl::InternalError(OpenSslError());
  SSL_CTX* ctx = context->ctx_;
  // Envoy's defaults (tls.proto TlsParameters): TLS 1.2 minimum, TLS 1.3 maximum.
  SSL_CTX_set_min_proto_version(
      ctx, config->params.min_version ? config->params.min_version : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(
      ctx, config->params.max_version ? config->params.max_version : TLS1_3_VERSION);
  if (!config->params.cipher_suites.empty()) {
    // OpenSSL configures TLS 1.3 suites (TLS_*) apart from the older cipher list.
    std::vector<std::string> tls13, older;
    for (const auto& c : config->params.cipher_suites) {
      (c.rfind("TLS_", 0) == 0 ? tls13 : older).push_back(c);
    }
    if (!older.empty() && SSL_CTX_set_cipher_list(ctx, absl::StrJoin(older, ":").c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("tls_params.cipher_suites: ", OpenSslError()));
    }
    if (!tls13.empty() && SSL_CTX_set_ciphersuites(ctx, absl::StrJoin(tls13, ":").c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("tls_params.cipher_suites: ", OpenSslError()));
    }
  }
  if (!config->params.ecdh_curves.empty() &&
      SSL_CTX_set1_groups_list(ctx, absl::StrJoin(config->params.ecdh_curves, ":").c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls_params.ecdh_curves: ", OpenSslError()));
  }
  if (cert) {
    if (absl::Status s = LoadCertificate(ctx, *cert); !s.ok()) return s;
  }
  int verify = SSL_VERIFY_NONE;
  if (validation) {
    if (absl::Status s = LoadTrustedCa(ctx, *validation); !s.ok()) return s;
    verify = SSL_VERIFY_PEER;
    if (config->server && config->require_client_certificate) {
      verify |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
  } else if (config->accept_untrusted && !config->san_matchers.empty()) {
    // No CA to chain to, but the peer's SANs must still match: look at its certificate.
    verify = SSL_VERIFY_PEER;
  }
  SSL_CTX_set_verify(ctx, verify, TlsSocket::VerifyCallback);
  for (const auto& p : config->alpn_protocols) {
    context->alpn_wire_.push_back(static_cast<char>(p.size()));
    context->alpn_wire_ += p;
  }
  if (!context->alpn_wire_.empty()) {
    if (config->server) {
      SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, context.get());
    } else {
      SSL_CTX_set_alpn_protos(ctx,
                              reinterpret_cast<const unsigned char*>(context->alpn_wire_.data()),
                              static_cast<unsigned int>(context->alpn_wire_.size()));
    }
  }
  // Resumption: servers use OpenSSL's defaults — a session cache and stateless tickets (keys
  // per SSL_CTX, so a rotation starts new sessions) — except that a TLS 1.3 handshake issues
  // one ticket, not OpenSSL's two: each costs a session serialization and encryption, ~15% of a
  // full mTLS handshake's instructions (callgrind, bench/mtls.sh newconn), and a sidecar's
  // client resumes one connection per ticket, getting a fresh ticket each time.
  if (config->server) {
    static const unsigned char kSessionContext[] = "weft";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
    SSL_CTX_set_num_tickets(ctx, 1);
  } else {
    // Clients keep sessions in the per-host SessionCache (session_cache.h), not OpenSSL's.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, TlsSocket::NewSessionCallback);
  }
  if (X509* leaf = SSL_CTX_get0_certificate(ctx)) {
    CertificateSans sans = ReadSans(leaf);
    if (!sans.uris.empty()) context->local_uri_san_ = std::move(sans.uris.front());
  }
  return std::shared_ptr<const SslContext>(std::move(context));
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::Create(TlsContextConfig config) {
  auto shared = std::make_shared<const TlsContextConfig>(std::move(config));
  auto context = std::shared_ptr<TlsContext>(new TlsContext(shared));
  if (!context->needs_secrets()) {
    auto built = SslContext::Build(shared, shared->certificate, shared->validation);
    if (!built.ok()) return built.status();
    context->current_ = *built;
  }
  return context;
}

std::shared_ptr<const SslContext> TlsContext::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void TlsContext::Subscribe(SecretProvider& provider) {
  // The provider has no unsubscribe (the contract keeps it small) and outlives configs that a
  // new LDS/CDS push replaces: the callbacks hold the context weakly.
  if (subscribed_) return;
  subscribed_ = true;
  std::weak_ptr<TlsContext> weak = weak_from_this();
  if (!config_->certificate_sds_name.empty()) {
    provider.SubscribeCertificate(config_->certificate_sds_name, [weak](const TlsCertificate& c) {
      if (auto self = weak.lock()) {
        self->sds_certificate_ = c;
        self->Rebuild();
      }
    });
  }
  if (!config_->validation_sds_name.empty()) {
    provider.SubscribeValidation(config_->validation_sds_name, [weak](const ValidationContext& v) {
      if (auto self = weak.lock()) {
        self->sds_validation_ = v;
        self->Rebuild();
      }
    });
  }
}

void TlsContext::Rebuild() {
  if (!config_->certificate_sds_name.empty() && !sds_certificate_) return;
  if (!config_->validation_sds_name.empty() && !sds_validation_) return;
  auto built =
      SslContext::Build(config_, sds_certificate_ ? sds_certificate_ : config_->certificate,
                        sds_validation_ ? sds_validation_ : config_->validation);
  if (!built.ok()) return;  // keep serving with the previous secrets
  std::lock_guard<std::mutex> lock(mu_);
  current_ = *built;
}

}  // namespace weft::tls
