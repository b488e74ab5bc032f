#include "proxy/config/translate_tls.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>

#include "base/status.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"

namespace weft::config {

namespace {

namespace tlsv3 = envoy::extensions::transport_sockets::tls::v3;

absl::StatusOr<int> TranslateVersion(tlsv3::TlsParameters::TlsProtocol version,
                                     std::string_view path) {
  switch (version) {
    case tlsv3::TlsParameters::TLS_AUTO:
      return 0;
    case tlsv3::TlsParameters::TLSv1_2:
      return TLS1_2_VERSION;
    case tlsv3::TlsParameters::TLSv1_3:
      return TLS1_3_VERSION;
    default:
      // TLS 1.0/1.1 are disabled in OpenSSL 3's default security level.
      return ConfigError(path, "only TLS_AUTO, TLSv1_2 and TLSv1_3 are supported");
  }
}

absl::StatusOr<tls::TlsParams> TranslateParams(const tlsv3::TlsParameters& p,
                                               std::string_view path) {
  tls::TlsParams out;
  ASSIGN_OR_RETURN(out.min_version,
                   TranslateVersion(p.tls_minimum_protocol_version(),
                                    FieldPath(path, "tls_minimum_protocol_version")));
  ASSIGN_OR_RETURN(out.max_version,
                   TranslateVersion(p.tls_maximum_protocol_version(),
                                    FieldPath(path, "tls_maximum_protocol_version")));
  out.cipher_suites.assign(p.cipher_suites().begin(), p.cipher_suites().end());
  out.ecdh_curves.assign(p.ecdh_curves().begin(), p.ecdh_curves().end());
  return out;
}

absl::Status TranslateValidation(const tlsv3::CertificateValidationContext& v,
                                 std::string_view path, tls::TlsContextConfig& out) {
  if (v.has_trusted_ca()) {
    ASSIGN_OR_RETURN(std::string ca,
                     TranslateDataSource(v.trusted_ca(), FieldPath(path, "trusted_ca")));
    out.validation = tls::ValidationContext{std::move(ca)};
  }
  for (int i = 0; i < v.match_typed_subject_alt_names_size(); ++i) {
    const auto& m = v.match_typed_subject_alt_names(i);
    const std::string m_path = IndexPath(path, "match_typed_subject_alt_names", i);
    tls::SanMatcher san;
    switch (m.san_type()) {
      case tlsv3::SubjectAltNameMatcher::URI:
        san.type = tls::SanMatcher::Type::kUri;
        break;
      case tlsv3::SubjectAltNameMatcher::DNS:
        san.type = tls::SanMatcher::Type::kDns;
        break;
      default:
        return ConfigError(FieldPath(m_path, "san_type"), "only URI and DNS are supported");
    }
    ASSIGN_OR_RETURN(san.matcher,
                     TranslateStringMatcher(m.matcher(), FieldPath(m_path, "matcher")));
    out.san_matchers.push_back(std::move(san));
  }
  for (int i = 0; i < v.match_subject_alt_names_size(); ++i) {
    tls::SanMatcher san;
    ASSIGN_OR_RETURN(san.matcher,
                     TranslateStringMatcher(v.match_subject_alt_names(i),
                                            IndexPath(path, "match_subject_alt_names", i)));
    out.san_matchers.push_back(std::move(san));
  }
  switch (v.trust_chain_verification()) {
    case tlsv3::CertificateValidationContext::VERIFY_TRUST_CHAIN:
      break;
    case tlsv3::CertificateValidationContext::ACCEPT_UNTRUSTED:
      out.accept_untrusted = true;
      break;
    default:
      return ConfigError(FieldPath(path, "trust_chain_verification"), "unknown value");
  }
  if (!out.san_matchers.empty() && !out.validation && out.validation_sds_name.empty() &&
      !out.accept_untrusted) {
    return ConfigError(path, "subject alt name matchers need trusted_ca to verify against");
  }
  return absl::OkStatus();
}

// The SDS names weft-proxy can serve: the identity agent's (identity_agent.h), Istio's
// SDSDefaultResourceName "default" (a certificate) and SDSRootResourceName "ROOTCA" (a
// validation context), pilot/pkg/security/model/authentication.go.
constexpr char kSdsCertificate[] = "default";
constexpr char kSdsRoot[] = "ROOTCA";

// sds_config: `ads: {}`, or Istio's form: api_config_source {api_type: GRPC, grpc_services:
// [{envoy_grpc: {cluster_name: sds-grpc}}], set_node_on_first_message_only, transport_api_version
// V3} with resource_api_version V3 and initial_fetch_timeout 0s (Istio's ConstructSdsSecretConfig).
// For "default" and "ROOTCA" both name the in-process agent; other names need `ads` (below).
absl::Status CheckSdsConfig(const envoy::config::core::v3::ConfigSource& source,
                            std::string_view path) {
  using envoy::config::core::v3::ApiConfigSource;
  if (source.has_ads()) return absl::OkStatus();
  if (!source.has_api_config_source()) {
    return ConfigError(path, "needs ads: {} or api_config_source (Istio's sds-grpc)");
  }
  const auto& api = source.api_config_source();
  const std::string a_path = FieldPath(path, "api_config_source");
  if (api.api_type() != ApiConfigSource::GRPC) {
    return ConfigError(FieldPath(a_path, "api_type"), "only GRPC is supported");
  }
  if (api.grpc_services_size() != 1 || !api.grpc_services(0).has_envoy_grpc()) {
    return ConfigError(FieldPath(a_path, "grpc_services"),
                       "exactly one envoy_grpc service (Istio's sds-grpc) is supported");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TranslateSds(const tlsv3::SdsSecretConfig& sds, const char* served,
                                         std::string_view path, tls::TlsContextConfig& out) {
  if (sds.has_sds_config()) {
    RETURN_IF_ERROR(CheckSdsConfig(sds.sds_config(), FieldPath(path, "sds_config")));
  }
  // The listener's warming bound (tls_context.h): unset = Envoy's 15 s default.
  const std::chrono::milliseconds timeout =
      sds.has_sds_config() && sds.sds_config().has_initial_fetch_timeout()
          ? ToMilliseconds(sds.sds_config().initial_fetch_timeout())
          : std::chrono::milliseconds(15000);
  if (timeout.count() < 0) {
    return ConfigError(FieldPath(FieldPath(path, "sds_config"), "initial_fetch_timeout"),
                       "must not be negative");
  }
  if (out.sds_path.empty()) {
    out.initial_fetch_timeout = timeout;  // the first SDS secret of this context
  } else if (timeout.count() == 0 || out.initial_fetch_timeout.count() == 0) {
    out.initial_fetch_timeout = std::chrono::milliseconds(0);
  } else {
    out.initial_fetch_timeout = std::max(out.initial_fetch_timeout, timeout);
  }
  if (sds.name() != kSdsCertificate && sds.name() != kSdsRoot) {
    // Any other name is fetched over the ADS stream (type
    // envoy.extensions.transport_sockets.tls.v3.Secret): weftd serves DestinationRule
    // credentialName's "kubernetes://<name>" and "kubernetes://<name>-cacert" there, and Istio
    // names it with sds_config {ads: {}} (pilot/pkg/model/credentials SDSAdsConfig). Either
    // kind of secret may stand in either place: the type arrives with the secret.
    if (sds.name().empty()) return ConfigError(FieldPath(path, "name"), "is required");
    if (!sds.has_sds_config() || !sds.sds_config().has_ads()) {
      return ConfigError(FieldPath(path, "sds_config"), "SDS secret '", sds.name(),
                         "': only the identity agent's 'default' and 'ROOTCA' are served "
                         "in-process; other names need ads: {} (they come over ADS)");
    }
    if (out.sds_path.empty()) out.sds_path = std::string(path);
    return sds.name();
  }
  if (sds.name() != served) {
    return ConfigError(
        path, "SDS secret '", sds.name(), "' is the identity agent's ",
        sds.name() == kSdsRoot ? "root bundle (a validation context)" : "workload certificate",
        "; use '", served, "' here");
  }
  if (out.sds_path.empty()) out.sds_path = std::string(path);
  return sds.name();
}

// A TlsCertificate's chain and key (file or inline), as PEM.
absl::StatusOr<tls::TlsCertificate> TranslateTlsCertificate(const tlsv3::TlsCertificate& cert,
                                                            std::string_view path) {
  tls::TlsCertificate pem;
  ASSIGN_OR_RETURN(pem.cert_chain_pem, TranslateDataSource(cert.certificate_chain(),
                                                           FieldPath(path, "certificate_chain")));
  ASSIGN_OR_RETURN(pem.private_key_pem,
                   TranslateDataSource(cert.private_key(), FieldPath(path, "private_key")));
  return pem;
}

absl::Status TranslateCommon(const tlsv3::CommonTlsContext& c, std::string_view path,
                             tls::TlsContextConfig& out) {
  if (c.tls_certificates_size() > 1) {
    return ConfigError(FieldPath(path, "tls_certificates"), "at most one certificate is supported");
  }
  if (c.tls_certificates_size() == 1) {
    ASSIGN_OR_RETURN(
        out.certificate,
        TranslateTlsCertificate(c.tls_certificates(0), IndexPath(path, "tls_certificates", 0)));
  }
  if (c.tls_certificate_sds_secret_configs_size() > 1 ||
      (c.tls_certificate_sds_secret_configs_size() == 1 && out.certificate)) {
    return ConfigError(FieldPath(path, "tls_certificate_sds_secret_configs"),
                       "at most one certificate (inline, file or SDS) is supported");
  }
  if (c.tls_certificate_sds_secret_configs_size() == 1) {
    ASSIGN_OR_RETURN(out.certificate_sds_name,
                     TranslateSds(c.tls_certificate_sds_secret_configs(0), kSdsCertificate,
                                  IndexPath(path, "tls_certificate_sds_secret_configs", 0), out));
  }
  // Set the SDS name before the static part so its SAN matchers need no trusted_ca.
  if (c.has_validation_context_sds_secret_config()) {
    ASSIGN_OR_RETURN(out.validation_sds_name,
                     TranslateSds(c.validation_context_sds_secret_config(), kSdsRoot,
                                  FieldPath(path, "validation_context_sds_secret_config"), out));
  }
  if (c.has_combined_validation_context()) {
    const auto& combined = c.combined_validation_context();
    const std::string v_path = FieldPath(path, "combined_validation_context");
    ASSIGN_OR_RETURN(out.validation_sds_name,
                     TranslateSds(combined.validation_context_sds_secret_config(), kSdsRoot,
                                  FieldPath(v_path, "validation_context_sds_secret_config"), out));
    RETURN_IF_ERROR(TranslateValidation(combined.default_validation_context(),
                                        FieldPath(v_path, "default_validation_context"), out));
  }
  if (c.has_validation_context()) {
    RETURN_IF_ERROR(
        TranslateValidation(c.validation_context(), FieldPath(path, "validation_context"), out));
  }
  out.alpn_protocols.assign(c.alpn_protocols().begin(), c.alpn_protocols().end());
  if (c.has_tls_params()) {
    ASSIGN_OR_RETURN(out.params, TranslateParams(c.tls_params(), FieldPath(path, "tls_params")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<tls::TlsContext>> TranslateTransportSocket(
    const envoy::config::core::v3::TransportSocket& socket, bool server, std::string_view path,
    const std::vector<std::string>& default_alpn) {
  ASSIGN_OR_RETURN(
      const KnownExtension* ext,
      ResolveExtension(socket.name(), socket.has_typed_config() ? &socket.typed_config() : nullptr,
                       ExtensionKind::kTransportSocket, path));
  if (ext->name == "envoy.transport_sockets.raw_buffer") return nullptr;  // plaintext
  const std::string c_path = FieldPath(path, "typed_config");
  if (!socket.has_typed_config()) return ConfigError(c_path, "is required");
  tls::TlsContextConfig out;
  out.server = server;
  if (server) {
    ASSIGN_OR_RETURN(auto proto,
                     Unpack<tlsv3::DownstreamTlsContext>(socket.typed_config(), c_path));
    RETURN_IF_ERROR(
        TranslateCommon(proto.common_tls_context(), FieldPath(c_path, "common_tls_context"), out));
    out.require_client_certificate =
        proto.has_require_client_certificate() && proto.require_client_certificate().value();
    if (!out.certificate && out.certificate_sds_name.empty()) {
      return ConfigError(FieldPath(c_path, "common_tls_context.tls_certificates"),
                         "a server needs a certificate");
    }
    if (out.require_client_certificate && !out.validation && out.validation_sds_name.empty()) {
      return ConfigError(FieldPath(c_path, "require_client_certificate"),
                         "needs a validation context (trusted_ca) to verify clients");
    }
  } else {
    ASSIGN_OR_RETURN(auto proto, Unpack<tlsv3::UpstreamTlsContext>(socket.typed_config(), c_path));
    RETURN_IF_ERROR(
        TranslateCommon(proto.common_tls_context(), FieldPath(c_path, "common_tls_context"), out));
    out.sni = proto.sni();
    if (out.alpn_protocols.empty()) out.alpn_protocols = default_alpn;
  }
  auto context = tls::TlsContext::Create(std::move(out));
  if (!context.ok())
    return ConfigError(FieldPath(c_path, "common_tls_context"), context.status().message());
  return context;
}

absl::StatusOr<SdsSecret> TranslateSecret(const tlsv3::Secret& proto, std::string_view path) {
  RETURN_IF_ERROR(CheckSupportedFields(proto, path));
  if (proto.name().empty()) return ConfigError(FieldPath(path, "name"), "is required");
  SdsSecret out;
  if (proto.has_tls_certificate()) {
    ASSIGN_OR_RETURN(out.certificate, TranslateTlsCertificate(proto.tls_certificate(),
                                                              FieldPath(path, "tls_certificate")));
  } else if (proto.has_validation_context()) {
    const std::string v_path = FieldPath(path, "validation_context");
    const auto& proto_v = proto.validation_context();
    if (proto_v.match_typed_subject_alt_names_size() > 0 ||
        proto_v.match_subject_alt_names_size() > 0 || proto_v.trust_chain_verification() != 0) {
      // The SAN rules belong to the cluster's own (default) validation context.
      return ConfigError(v_path, "only trusted_ca is supported in an SDS validation context");
    }
    tls::ValidationContext v;
    ASSIGN_OR_RETURN(v.trusted_ca_pem, TranslateDataSource(proto.validation_context().trusted_ca(),
                                                           FieldPath(v_path, "trusted_ca")));
    out.validation = std::move(v);
  } else {
    return ConfigError(path, "needs tls_certificate or validation_context");
  }
  return out;
}

}  // namespace weft::config
