// Why a token was refused. The messages are the ones Envoy's jwt_authn filter puts in the body of
// its 401/403 (Envoy's source/common/jwt/status.cc, getStatusString), so clients and tests written
// against Envoy read the same text.
#pragma once

#include <string_view>

namespace weft::jwt {

enum class Status {
  kOk,
  kMissing,
  kNotYetValid,
  kExpired,
  kBadFormat,
  kHeaderBadBase64,
  kHeaderBadJson,
  kHeaderBadAlg,
  kHeaderNotImplementedAlg,
  kHeaderBadKid,
  kPayloadBadBase64,
  kPayloadBadJson,
  kPayloadBadClaim,  // iss/sub not a string, exp/nbf/iat not a positive integer, bad aud
  kSignatureBadBase64,
  kUnknownIssuer,
  kAudienceNotAllowed,
  kVerificationFail,
  kJwksKidAlgMismatch,
  kJwksFetchFail,
};

std::string_view StatusMessage(Status status);

}  // namespace weft::jwt
