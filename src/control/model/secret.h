// Kubernetes' core v1 Secret, as weftd stores it for DestinationRule `credentialName` (Istio's
// ClientTLSSettings.credential_name: "the name of the secret that holds the TLS certs for the
// client including the CA certificates"; docs/user-guide/security-policy.md).
//
// Two shapes carry a TLS credential, with Istio's key names (pilot/pkg/credentials/kube
// secrets.go: GenericScrtCert/Key/CaCert and TLSSecretCert/Key/CaCert):
//   type: kubernetes.io/tls   data: {tls.crt, tls.key, ca.crt}   (ca.crt optional)
//   type: Opaque              data: {cert, key, cacert}          (each optional, cert needs key)
// `data` values are base64 (RFC 4648, as Kubernetes' []byte JSON); `stringData` values are plain
// text folded into `data` on write (Kubernetes' write-only field). Validation decodes them and
// checks the PEM with OpenSSL: the certificate chain and key parse, and the key is the
// certificate's. The key material is never logged (nor put in an error message).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/model/schema.h"

namespace weft::control {

inline constexpr char kSecretTypeTls[] = "kubernetes.io/tls";
inline constexpr char kSecretTypeOpaque[] = "Opaque";

// Every problem of a Secret object (apiVersion, kind, metadata checked by the caller's schema
// too), with Kubernetes field paths: "data[tls.crt]: Invalid value: ...".
void ValidateSecretBody(const nlohmann::json& object, Errors& errors);

// Kubernetes' rule for an update of a Secret whose stored version has `immutable: true`:
// data, type and immutable may not change (the error's field is the first that did).
void ValidateSecretUpdate(const nlohmann::json& stored, const nlohmann::json& updated,
                          Errors& errors);

// Kubernetes' write: stringData's entries replace data's of the same key (base64-encoded), and
// stringData is not stored.
void FoldStringData(nlohmann::json& object);

// The PEM a stored (valid) Secret carries: empty strings for what it lacks.
struct TlsCredential {
  std::string cert_chain_pem, private_key_pem, ca_pem;
};
// Decodes `data` by the Secret's type; nullopt when it is no TLS credential at all.
std::optional<TlsCredential> TlsCredentialOf(const nlohmann::json& object);

}  // namespace weft::control
