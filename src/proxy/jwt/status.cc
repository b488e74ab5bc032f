#include "proxy/jwt/status.h"

namespace weft::jwt {

std::string_view StatusMessage(Status status) {
  switch (status) {
    case Status::kOk:
      return "OK";
    case Status::kMissing:
      return "Jwt is missing";
    case Status::kNotYetValid:
      return "Jwt not yet valid";
    case Status::kExpired:
      return "Jwt is expired";
    case Status::kBadFormat:
      return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case Status::kHeaderBadBase64:
      return "Jwt header is an invalid Base64url encoded";
    case Status::kHeaderBadJson:
      return "Jwt header is an invalid JSON";
    case Status::kHeaderBadAlg:
      return "Jwt header [alg] field is required and must be a string";
    case Status::kHeaderNotImplementedAlg:
      return "Jwt header [alg] is not supported";
    case Status::kHeaderBadKid:
      return "Jwt header [kid] field is not a string";
    case Status::kPayloadBadBase64:
      return "Jwt payload is an invalid Base64url encoded";
    case Status::kPayloadBadJson:
      return "Jwt payload is an invalid JSON";
    case Status::kPayloadBadClaim:
      // Envoy names the claim; one message for all keeps the enum small.
      return "Jwt payload has a registered claim of the wrong type";
    case Status::kSignatureBadBase64:
      return "Jwt signature is an invalid Base64url encoded";
    case Status::kUnknownIssuer:
      return "Jwt issuer is not configured";
    case Status::kAudienceNotAllowed:
      return "Audiences in Jwt are not allowed";
    case Status::kVerificationFail:
      return "Jwt verification fails";
    case Status::kJwksKidAlgMismatch:
      return "Jwks doesn't have key to match kid or alg from Jwt";
    case Status::kJwksFetchFail:
      return "Jwks remote fetch is failed";
  }
  return "Jwt verification fails";
}

}  // namespace weft::jwt
