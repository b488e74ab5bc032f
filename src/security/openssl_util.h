// Small RAII and PEM helpers over OpenSSL 3, shared by weftd's CA (control/ca) and weft-proxy's
// identity agent (proxy/identity): owning pointers with the right free function, PEM in and out
// of strings, a new EC P-256 key, a CSR for one URI SAN, and files written with an exact mode.
// Kept out of the public headers of both so their users do not include OpenSSL.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::security {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;

// The last OpenSSL error queue entry as text (and the queue cleared), for error messages.
std::string OpenSslError();

absl::StatusOr<X509Ptr> ParseCertificate(const std::string& pem);
// Every certificate in a PEM bundle, in order (an empty bundle is an error).
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem);
absl::StatusOr<PkeyPtr> ParsePrivateKey(const std::string& pem);
absl::StatusOr<ReqPtr> ParseCsr(const std::string& pem);
std::string CertificateToPem(X509* cert);
std::string PrivateKeyToPem(EVP_PKEY* key);  // PKCS#8, unencrypted

// A fresh EC P-256 key.
absl::StatusOr<PkeyPtr> NewEcP256Key();

// A PEM CSR for `key`, signed by it, with an empty subject and the subjectAltName given in
// OpenSSL's config syntax ("URI:spiffe://...", "URI:a,DNS:b"; empty: no SAN).
absl::StatusOr<std::string> MakeCsr(EVP_PKEY* key, const std::string& subject_alt_name);

absl::StatusOr<std::string> ReadFile(const std::string& path);
// A bearer token (a workload's istio-token) from a file, trailing whitespace and newlines
// dropped; an empty file is an error. Read at each use: the file may have been rotated.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);
// Written to a temporary file with `mode` from creation (never briefly wider), then renamed.
absl::Status WriteFileWithMode(const std::string& path, const std::string& content, int mode);

}  // namespace weft::security
