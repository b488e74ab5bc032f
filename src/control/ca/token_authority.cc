#include "control/ca/token_authority.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/escaping.h"
#include "base/status.h"
#include "security/openssl_util.h"

namespace weft::control::ca {
using namespace ::weft::security;  // X509Ptr, PEM helpers
namespace {

constexpr const char kIssuer[] = "weftd";
constexpr const char kSubjectPrefix[] = "system:serviceaccount:";
constexpr size_t kKeyBytes = 32;

std::string Base64Url(const std::string& bytes) {
  std::string out;
  absl::WebSafeBase64Escape(absl::string_view(bytes.data(), bytes.size()), &out);
  return out;
}

bool FromBase64Url(const std::string& text, std::string* bytes) {
  return absl::WebSafeBase64Unescape(absl::string_view(text.data(), text.size()), bytes);
}

}  // namespace

TokenAuthority::TokenAuthority(std::string key, Clock now)
    : key_(std::move(key)),
      now_(now ? std::move(now) : [] { return std::chrono::system_clock::now(); }) {}

absl::StatusOr<std::unique_ptr<TokenAuthority>> TokenAuthority::Open(const std::string& key_path,
                                                                     Clock now) {
  absl::StatusOr<std::string> stored = ReadFile(key_path);
  std::string key;
  if (stored.ok()) {
    if (!FromBase64Url(*stored, &key) || key.size() < kKeyBytes) {
      return absl::InvalidArgumentError(key_path + ": not a token key (base64url, 32 bytes)");
    }
  } else {
    key.resize(kKeyBytes);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    RETURN_IF_ERROR(WriteFileWithMode(key_path, Base64Url(key), 0600));
  }
  return std::make_unique<TokenAuthority>(std::move(key), std::move(now));
}

std::string TokenAuthority::Sign(const std::string& signing_input) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_len);
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

std::string TokenAuthority::Issue(const ServiceAccount& account,
                                  std::chrono::seconds lifetime) const {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
  nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  nlohmann::json payload = {{"iss", kIssuer},
                            {"sub", kSubjectPrefix + account.ns + ":" + account.name},
                            {"iat", now},
                            {"exp", now + lifetime.count()}};
  std::string input = Base64Url(header.dump()) + "." + Base64Url(payload.dump());
  return input + "." + Base64Url(Sign(input));
}

absl::StatusOr<ServiceAccount> TokenAuthority::Verify(const std::string& token) const {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos || token.find('.', dot2 + 1) != std::string::npos) {
    return absl::UnauthenticatedError("malformed token: not a compact JWS");
  }
  std::string header_json, payload_json, signature;
  if (!FromBase64Url(token.substr(0, dot1), &header_json) ||
      !FromBase64Url(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload_json) ||
      !FromBase64Url(token.substr(dot2 + 1), &signature)) {
    return absl::UnauthenticatedError("malformed token: bad base64url");
  }
  nlohmann::json header = nlohmann::json::parse(header_json, nullptr, false);
  // Only HS256: a token cannot pick a weaker algorithm ("none") for itself.
  if (!header.is_object() || header.value("alg", "") != "HS256") {
    return absl::UnauthenticatedError("token algorithm is not HS256");
  }
  const std::string expected = Sign(token.substr(0, dot2));
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("token signature does not verify");
  }
  nlohmann::json payload = nlohmann::json::parse(payload_json, nullptr, false);
  if (!payload.is_object()) return absl::UnauthenticatedError("token payload is not JSON");
  if (payload.value("iss", "") != kIssuer) {
    return absl::UnauthenticatedError("token issuer is not weftd");
  }
  const auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number_integer()) {
    return absl::UnauthenticatedError("token has no exp");
  }
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
  if (exp->get<int64_t>() <= now) return absl::UnauthenticatedError("token expired");
  const std::string sub = payload.value("sub", "");
  const std::string prefix = kSubjectPrefix;
  const size_t colon = sub.find(':', prefix.size());
  if (sub.rfind(prefix, 0) != 0 || colon == std::string::npos || colon == prefix.size() ||
      colon + 1 == sub.size() || sub.find(':', colon + 1) != std::string::npos) {
    return absl::UnauthenticatedError("token subject is not system:serviceaccount:<ns>:<sa>");
  }
  return ServiceAccount{sub.substr(prefix.size(), colon - prefix.size()), sub.substr(colon + 1)};
}

}  // namespace weft::control::ca
