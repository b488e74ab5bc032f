#include "proxy/jwt/jwt.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>

#include "proxy/jwt/base64url.h"

namespace weft::jwt {
namespace {

using json = nlohmann::json;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// The digest for an RSA alg, or nullptr.
const EVP_MD* RsaDigest(std::string_view alg) {
  if (alg == "RS256") return EVP_sha256();
  if (alg == "RS384") return EVP_sha384();
  if (alg == "RS512") return EVP_sha512();
  return nullptr;
}

bool KeyFitsAlg(const Jwk& key, std::string_view alg) {
  if (!key.alg.empty() && key.alg != alg) return false;
  switch (key.type) {
    case Jwk::Type::kRsa:
      return RsaDigest(alg) != nullptr;
    case Jwk::Type::kEcP256:
      return alg == "ES256";
    case Jwk::Type::kEd25519:
      return alg == "EdDSA";
  }
  return false;
}

// JOSE's ES256 signature is r||s, 32 bytes each; OpenSSL verifies the DER ECDSA-Sig-Value.
std::optional<std::string> JoseToDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool Verify(const Jwk& key, const Jwt& jwt) {
  // EdDSA is one-shot with no separate digest (md = nullptr).
  const EVP_MD* md = key.type == Jwk::Type::kRsa      ? RsaDigest(jwt.alg)
                     : key.type == Jwk::Type::kEcP256 ? EVP_sha256()
                                                      : nullptr;
  std::string der;
  std::string_view signature = jwt.signature;
  if (key.type == Jwk::Type::kEcP256) {
    auto converted = JoseToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                          jwt.signing_input.size()) == 1;
}

// A NumericDate claim (RFC 7519 section 2): absent, or a positive number (fractions dropped).
bool ReadTime(const json& payload, const char* name, std::optional<int64_t>& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return true;
  if (!it->is_number() || it->get<double>() <= 0) return false;
  out = it->is_number_integer() ? it->get<int64_t>() : static_cast<int64_t>(it->get<double>());
  return true;
}

bool ReadString(const json& payload, const char* name, std::string& out) {
  auto it = payload.find(name);
  if (it == payload.end()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

}  // namespace

Status ParseJwt(std::string_view token, Jwt& out) {
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Status::kBadFormat;
  }
  const std::string_view header64 = token.substr(0, dot1);
  const std::string_view payload64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature64 = token.substr(dot2 + 1);

  auto header_text = Base64UrlDecode(header64);
  if (!header_text) return Status::kHeaderBadBase64;
  const json header = json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Status::kHeaderBadJson;
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return Status::kHeaderBadAlg;
  out.alg = alg->get<std::string>();
  if (RsaDigest(out.alg) == nullptr && out.alg != "ES256" && out.alg != "EdDSA") {
    return Status::kHeaderNotImplementedAlg;  // "none", HS*, PS*, ES384 ...
  }
  if (auto kid = header.find("kid"); kid != header.end()) {
    if (!kid->is_string()) return Status::kHeaderBadKid;
    out.kid = kid->get<std::string>();
  }

  auto payload_text = Base64UrlDecode(payload64);
  if (!payload_text) return Status::kPayloadBadBase64;
  out.payload = json::parse(*payload_text, nullptr, false);
  if (out.payload.is_discarded() || !out.payload.is_object()) return Status::kPayloadBadJson;
  if (!ReadString(out.payload, "iss", out.iss) || !ReadString(out.payload, "sub", out.sub) ||
      !ReadTime(out.payload, "exp", out.exp) || !ReadTime(out.payload, "nbf", out.nbf)) {
    return Status::kPayloadBadClaim;
  }
  if (auto aud = out.payload.find("aud"); aud != out.payload.end()) {
    if (aud->is_string()) {
      out.audiences.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const json& a : *aud) {
        if (!a.is_string()) return Status::kPayloadBadClaim;
        out.audiences.push_back(a.get<std::string>());
      }
    } else {
      return Status::kPayloadBadClaim;
    }
  }

  auto signature = Base64UrlDecode(signature64);
  if (!signature) return Status::kSignatureBadBase64;
  out.signature = std::move(*signature);
  out.payload_base64url = std::string(payload64);
  out.signing_input = std::string(token.substr(0, dot2));
  return Status::kOk;
}

Status VerifySignature(const Jwt& jwt, const Jwks& jwks) {
  bool any_fits = false;
  for (const Jwk& key : jwks.keys) {
    if (!jwt.kid.empty() && !key.kid.empty() && key.kid != jwt.kid) continue;
    if (!KeyFitsAlg(key, jwt.alg)) continue;
    any_fits = true;
    if (Verify(key, jwt)) return Status::kOk;
  }
  return any_fits ? Status::kVerificationFail : Status::kJwksKidAlgMismatch;
}

Status CheckTime(const Jwt& jwt, int64_t now_seconds, int64_t clock_skew_seconds) {
  if (jwt.nbf && now_seconds + clock_skew_seconds < *jwt.nbf) return Status::kNotYetValid;
  if (jwt.exp && now_seconds - clock_skew_seconds > *jwt.exp) return Status::kExpired;
  return Status::kOk;
}

}  // namespace weft::jwt
