// weftd's service-account tokens: what a proxy shows the CA to prove which workload it is,
// Istio's "third-party JWT" in a mesh without Kubernetes. A token is a compact JWS (RFC 7515)
// signed with HMAC-SHA256 (RFC 7518 3.2, "HS256") whose payload is
//   {"iss": "weftd", "sub": "system:serviceaccount:<ns>:<sa>", "iat": N, "exp": N}
// (Kubernetes' subject form for a service account). The key is 32 random bytes in
// <data-dir>/ca/token-key (0600), made at first start; only weftd signs and verifies, so a
// symmetric key is enough.
//
// Thread-safe after construction (const methods only).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace weft::control::ca {

struct ServiceAccount {
  std::string ns;
  std::string name;
};

class TokenAuthority {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // Reads the key at `key_path`, or makes one there (0600) when the file is absent.
  static absl::StatusOr<std::unique_ptr<TokenAuthority>> Open(const std::string& key_path,
                                                              Clock now = nullptr);
  explicit TokenAuthority(std::string key, Clock now = nullptr);

  std::string Issue(const ServiceAccount& account, std::chrono::seconds lifetime) const;

  // The token's service account, or Unauthenticated with the reason: malformed, a signature
  // that does not verify, another issuer or algorithm, a subject that is not a service account,
  // expired.
  absl::StatusOr<ServiceAccount> Verify(const std::string& token) const;

 private:
  std::string Sign(const std::string& signing_input) const;

  std::string key_;
  Clock now_;
};

}  // namespace weft::control::ca
