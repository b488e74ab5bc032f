// weftd's certificate authority (Istio's istiod CA, "Citadel"): it holds the mesh's signing
// certificate and key and signs workload certificates whose only identity is a SPIFFE URI SAN,
// `spiffe://<trust domain>/ns/<ns>/sa/<sa>` (docs/user-guide/security.md).
//
// Its files use Istio's plug-in names (istio/istio samples/certs, the `cacerts` secret):
//   root-cert.pem   the mesh root every proxy trusts
//   ca-cert.pem     the certificate that signs (the root itself when weftd made it)
//   ca-key.pem      its private key (0600; never served)
//   cert-chain.pem  ca-cert.pem's chain up to the root
// Either weftd makes them at first start in <data-dir>/ca (a self-signed EC P-256 root valid ten
// years, as Istio's self-signed root is), or `weftd --cacerts DIR` names the user's own (an
// intermediate signed by their root, as with Istio's plug-in certificates).
//
// Thread-safe: gRPC threads sign concurrently (a mutex around the signing key).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::control::ca {

// A certificate chain and its private key, PEM.
struct KeyCertPair {
  std::string cert_chain_pem;  // leaf first, then intermediates (not the root)
  std::string private_key_pem;
};

class CertificateAuthority {
 public:
  // Loads the CA files from `plugin_dir` when it is not empty (the user's cacerts; nothing is
  // written there), else from `ca_dir`, creating a self-signed root there at first start.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Open(const std::string& ca_dir,
                                                                    const std::string& plugin_dir,
                                                                    const std::string& org);
  ~CertificateAuthority();

  // Signs a PEM CSR for exactly one identity: the CSR's self-signature must verify and its
  // subjectAltName must hold one URI SAN equal to `spiffe_id` and nothing else. The leaf is
  // valid for `ttl` from now. Returns Istio's cert_chain: [leaf, intermediates..., root] (PEM
  // each). InvalidArgument/PermissionDenied say why a CSR was refused.
  absl::StatusOr<std::vector<std::string>> SignCsr(const std::string& csr_pem,
                                                   const std::string& spiffe_id,
                                                   std::chrono::seconds ttl);

  // A server certificate for weftd's own TLS port, with a new EC P-256 key: DNS and IP SANs,
  // extendedKeyUsage serverAuth.
  absl::StatusOr<KeyCertPair> IssueServingCertificate(const std::vector<std::string>& dns_names,
                                                      const std::vector<std::string>& ips,
                                                      std::chrono::seconds ttl);

  const std::string& root_cert_pem() const;

 private:
  struct State;
  explicit CertificateAuthority(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "spiffe://<trust domain>/ns/<ns>/sa/<sa>"
std::string SpiffeId(const std::string& trust_domain, const std::string& ns, const std::string& sa);

}  // namespace weft::control::ca
