// TLS contexts of filter chains (DownstreamTlsContext) and clusters (UpstreamTlsContext): the
// plain config translated from Envoy's CommonTlsContext, and the OpenSSL 3 SSL_CTX built from it.
//
// A TlsContext holds the config and its current SslContext. Secrets named by SDS arrive later
// (SecretProvider, main thread); each update builds a new SslContext and swaps it in: new
// connections take the new one, open connections keep the one they started with (rotation
// without dropping anything). Workers read current() under a short mutex once per connection.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/router/route_config.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/secret_provider.h"

namespace weft::tls {

// One of match_typed_subject_alt_names (type URI / DNS) or match_subject_alt_names (any type).
struct SanMatcher {
  enum class Type { kAny, kUri, kDns };
  Type type = Type::kAny;
  router::StringMatcher matcher;
};

// envoy.extensions.transport_sockets.tls.v3.TlsParameters. Versions as OpenSSL's
// TLS1_x_VERSION; 0 = the default.
struct TlsParams {
  int min_version = 0;
  int max_version = 0;
  std::vector<std::string> cipher_suites;
  std::vector<std::string> ecdh_curves;
};

struct TlsContextConfig {
  bool server = false;
  // tls_certificates[0] (PEM text, from a file or inline) or tls_certificate_sds_secret_configs.
  std::optional<TlsCertificate> certificate;
  std::string certificate_sds_name;
  // validation_context.trusted_ca, or an SDS validation context (with the static matchers of a
  // combined_validation_context's default_validation_context).
  std::optional<ValidationContext> validation;
  std::string validation_sds_name;
  std::vector<SanMatcher> san_matchers;
  // validation_context.trust_chain_verification ACCEPT_UNTRUSTED: the peer's chain is not
  // verified against the trusted CA (SAN matchers still apply). Envoy's default is
  // VERIFY_TRUST_CHAIN (tls/v3/common.proto CertificateValidationContext).
  bool accept_untrusted = false;
  std::vector<std::string> alpn_protocols;
  TlsParams params;
  bool require_client_certificate = false;  // DownstreamTlsContext
  std::string sni;                          // UpstreamTlsContext
  // Field path of the first SDS secret config, for errors found after translation (no provider
  // serves it): "...common_tls_context.tls_certificate_sds_secret_configs[0]".
  std::string sds_path;
  // How long a listener naming these SDS secrets warms (is not given to the workers) waiting for
  // them: sds_config.initial_fetch_timeout, Envoy's ConfigSource default 15 s when unset; 0 waits
  // as long as it takes (Envoy: "0 means no timeout"). Of a certificate and a validation context
  // with different timeouts, the longer one (0 if either is 0), as Envoy's init manager waits for
  // every target.
  std::chrono::milliseconds initial_fetch_timeout{15000};
};

// Envoy's ssl.* statistics of a listener or cluster (source/common/tls/stats.h names).
struct TlsStats {
  stats::Counter* handshake;
  stats::Counter* connection_error;
  stats::Counter* no_certificate;
  stats::Counter* fail_verify_san;
  stats::Counter* fail_verify_error;
  stats::Counter* session_reused;  // handshakes that resumed a session (ticket or session id)
  // `prefix` ends with '.': "listener.127.0.0.1_443." or "cluster.backend."
  static TlsStats Create(stats::Store& store, const std::string& prefix);
};

// A certificate's subjectAltNames of the two types SAN matchers look at.
struct CertificateSans {
  std::vector<std::string> uris, dnss;
};
CertificateSans ReadSans(X509* cert);

// One built SSL_CTX and the config it was built from. Immutable; SSL_new on it is thread-safe.
class SslContext {
 public:
  ~SslContext();
  SslContext(const SslContext&) = delete;
  SslContext& operator=(const SslContext&) = delete;
  static absl::StatusOr<std::shared_ptr<const SslContext>> Build(
      std::shared_ptr<const TlsContextConfig> config, const std::optional<TlsCertificate>& cert,
      const std::optional<ValidationContext>& validation);
  SSL_CTX* ctx() const { return ctx_; }
  const TlsContextConfig& config() const { return *config_; }
  // ALPN in wire format (length-prefixed), for the client hello and the server's selection.
  const std::string& alpn_wire() const { return alpn_wire_; }
  // The first URI SAN of the certificate this context presents ("" without one).
  const std::string& local_uri_san() const { return local_uri_san_; }

 private:
  SslContext() = default;
  SSL_CTX* ctx_ = nullptr;
  std::shared_ptr<const TlsContextConfig> config_;
  std::string alpn_wire_;
  std::string local_uri_san_;
};

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  // Builds the SSL_CTX now when no secret comes from SDS (refusing bad certificates/keys);
  // otherwise current() is null until Subscribe's secrets have arrived.
  static absl::StatusOr<std::shared_ptr<TlsContext>> Create(TlsContextConfig config);
  const TlsContextConfig& config() const { return *config_; }
  bool needs_secrets() const {
    return !config_->certificate_sds_name.empty() || !config_->validation_sds_name.empty();
  }
  std::shared_ptr<const SslContext> current() const;
  // Whether it can handshake: no SDS secrets needed, or all of them have arrived.
  bool ready() const { return current() != nullptr; }
  // Main thread: follow the SDS names through `provider`; each complete update rebuilds. A
  // context shared by several configs (a listener swapped in again) subscribes once.
  void Subscribe(SecretProvider& provider);
  bool subscribed() const { return subscribed_; }

 private:
  explicit TlsContext(std::shared_ptr<const TlsContextConfig> config)
      : config_(std::move(config)) {}
  void Rebuild();
  std::shared_ptr<const TlsContextConfig> config_;
  std::optional<TlsCertificate> sds_certificate_;
  std::optional<ValidationContext> sds_validation_;
  bool subscribed_ = false;
  mutable std::mutex mu_;
  std::shared_ptr<const SslContext> current_;
};

}  // namespace weft::tls
