// A JWT in JWS compact serialization (RFC 7515 section 7.1, RFC 7519): parsed, its signature
// verified against a JWKS, its time claims checked. Algorithms: RS256/RS384/RS512, ES256 (JOSE's
// raw r||s signature, RFC 7518 section 3.4) and EdDSA with Ed25519 (RFC 8037). "none" and HMAC
// are refused: a proxy verifying tokens for others has no shared secret to check them with.
//
// Pure functions over immutable data; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/jwt/jwks.h"
#include "proxy/jwt/status.h"

namespace weft::jwt {

struct Jwt {
  std::string alg, kid;
  std::string iss, sub;
  std::vector<std::string> audiences;  // "aud" as a string or a list
  std::optional<int64_t> exp, nbf;     // seconds since the epoch
  nlohmann::json payload;              // the decoded claims (an object)
  std::string payload_base64url;       // the token's payload segment, as received
  std::string signing_input;           // "<header>.<payload>", what the signature covers
  std::string signature;               // decoded
};

// Parses `token`; kOk and fills `out`, or the reason it is malformed (kBadFormat, kHeader*,
// kPayload*, kSignatureBadBase64, kHeaderNotImplementedAlg for "none" or any alg not listed above).
Status ParseJwt(std::string_view token, Jwt& out);

// Whether some key of `jwks` whose kid (when both have one) and alg (when the key has one) fit
// the token verifies its signature: kOk, kVerificationFail, or kJwksKidAlgMismatch when no key
// fits.
Status VerifySignature(const Jwt& jwt, const Jwks& jwks);

// exp and nbf against `now_seconds`, allowing `clock_skew_seconds` either way (Envoy's
// JwtProvider.clock_skew_seconds, default 60): kOk, kExpired or kNotYetValid.
Status CheckTime(const Jwt& jwt, int64_t now_seconds, int64_t clock_skew_seconds);

}  // namespace weft::jwt
