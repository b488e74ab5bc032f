// The proxy's namespace's Secrets as Envoy SDS resources
// (envoy.extensions.transport_sockets.tls.v3.Secret: name plus one of tls_certificate or
// validation_context), with Istio's resource names (pilot/pkg/model/credentials:
// KubernetesSecretType "kubernetes" -> "kubernetes://<name>", SdsCaSuffix "-cacert"; Istio's
// secret generator serves a credential's CA under "<name>-cacert"):
//   kubernetes://<name>         tls_certificate {certificate_chain, private_key} (inline_bytes)
//   kubernetes://<name>-cacert  validation_context {trusted_ca} (inline_bytes)
// Only the proxy's own namespace is visible (Istio's rule for sidecars: the Secret must be in the
// proxy's namespace), so a proxy asking for another namespace's name finds nothing.
#include "absl/strings/str_cat.h"
#include "control/model/secret.h"
#include "control/translate/internal.h"

namespace weft::control::translate::internal {

void BuildSecrets(const View& view, XdsResources& out) {
  namespace tls = envoy::extensions::transport_sockets::tls::v3;
  for (const auto& [name, object] : view.secrets()) {
    std::optional<TlsCredential> credential = TlsCredentialOf(*object);
    if (!credential) continue;
    if (!credential->cert_chain_pem.empty() && !credential->private_key_pem.empty()) {
      tls::Secret& s = out.secrets.emplace_back();
      s.set_name(absl::StrCat(kKubernetesSecretPrefix, name));
      s.mutable_tls_certificate()->mutable_certificate_chain()->set_inline_bytes(
          credential->cert_chain_pem);
      s.mutable_tls_certificate()->mutable_private_key()->set_inline_bytes(
          credential->private_key_pem);
    }
    if (!credential->ca_pem.empty()) {
      tls::Secret& s = out.secrets.emplace_back();
      s.set_name(absl::StrCat(kKubernetesSecretPrefix, name, kSdsCaSuffix));
      s.mutable_validation_context()->mutable_trusted_ca()->set_inline_bytes(credential->ca_pem);
    }
  }
}

}  // namespace weft::control::translate::internal
