// A JSON Web Key Set (RFC 7517) turned into OpenSSL 3 public keys, for verifying JWS signatures.
// Supported keys: RSA (kty RSA: n, e) for RS256/RS384/RS512, EC P-256 (kty EC, crv P-256: x, y)
// for ES256, and Ed25519 (kty OKP, crv Ed25519: x) for EdDSA. Keys of other types (oct, other
// curves) are skipped, as Envoy skips keys it cannot use; a set with no usable key is an error.
//
// Immutable after parsing; shared by all workers (EVP_PKEY verification with a fresh
// EVP_MD_CTX per call is thread-safe).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace weft::jwt {

struct Jwk {
  enum class Type { kRsa, kEcP256, kEd25519 };
  Type type = Type::kRsa;
  std::string kid;  // empty: matches any token kid
  std::string alg;  // empty: any algorithm of the key's type
  std::shared_ptr<EVP_PKEY> key;
};

struct Jwks {
  std::vector<Jwk> keys;
};

// Parses `json` ({"keys": [...]}). InvalidArgument with the reason (Envoy's wording where it has
// one) when the JSON is malformed or no key is usable.
absl::StatusOr<std::shared_ptr<const Jwks>> ParseJwks(std::string_view json);

}  // namespace weft::jwt
