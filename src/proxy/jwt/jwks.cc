#include "proxy/jwt/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "proxy/jwt/base64url.h"

namespace weft::jwt {
namespace {

using json = nlohmann::json;

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

std::optional<std::string> DecodedMember(const json& key, const char* name) {
  auto it = key.find(name);
  if (it == key.end() || !it->is_string()) return std::nullopt;
  return Base64UrlDecode(it->get<std::string>());
}

// EVP_PKEY_fromdata with the params `build` adds: the OpenSSL 3 way to make a public key from
// its raw components (OSSL_PKEY_PARAM_* in openssl/core_names.h).
std::shared_ptr<EVP_PKEY> FromData(const char* key_type,
                                   const std::function<bool(OSSL_PARAM_BLD*)>& build) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || !build(bld.get())) return nullptr;
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, key_type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return nullptr;
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::shared_ptr<EVP_PKEY> RsaKey(const std::string& n, const std::string& e) {
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                                 static_cast<int>(n.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                                 static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) return nullptr;
  return FromData("RSA", [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
           OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1;
  });
}

// P-256 public point from the JWK's x and y (RFC 7518 section 6.2.1: each exactly 32 bytes).
std::shared_ptr<EVP_PKEY> EcP256Key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  const std::string point = std::string(1, '\x04') + x + y;  // SEC1 uncompressed
  return FromData("EC", [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) == 1 &&
           OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                            point.size()) == 1;
  });
}

std::shared_ptr<EVP_PKEY> Ed25519Key(const std::string& x) {
  if (x.size() != 32) return nullptr;  // RFC 8037 section 2
  return FromData("ED25519", [&](OSSL_PARAM_BLD* b) {
    return OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, x.data(), x.size()) == 1;
  });
}

std::string StringMember(const json& key, const char* name) {
  auto it = key.find(name);
  return it != key.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The key, or nullopt when it is of a type Weft does not verify with or is malformed.
std::optional<Jwk> ParseKey(const json& key) {
  if (!key.is_object()) return std::nullopt;
  Jwk jwk;
  jwk.kid = StringMember(key, "kid");
  jwk.alg = StringMember(key, "alg");
  const std::string kty = StringMember(key, "kty");
  if (kty == "RSA") {
    if (!jwk.alg.empty() && jwk.alg.rfind("RS", 0) != 0) return std::nullopt;
    auto n = DecodedMember(key, "n");
    auto e = DecodedMember(key, "e");
    if (!n || !e) return std::nullopt;
    jwk.type = Jwk::Type::kRsa;
    jwk.key = RsaKey(*n, *e);
  } else if (kty == "EC") {
    if (StringMember(key, "crv") != "P-256" || (!jwk.alg.empty() && jwk.alg != "ES256")) {
      return std::nullopt;
    }
    auto x = DecodedMember(key, "x");
    auto y = DecodedMember(key, "y");
    if (!x || !y) return std::nullopt;
    jwk.type = Jwk::Type::kEcP256;
    jwk.key = EcP256Key(*x, *y);
  } else if (kty == "OKP") {
    if (StringMember(key, "crv") != "Ed25519" || (!jwk.alg.empty() && jwk.alg != "EdDSA")) {
      return std::nullopt;
    }
    auto x = DecodedMember(key, "x");
    if (!x) return std::nullopt;
    jwk.type = Jwk::Type::kEd25519;
    jwk.key = Ed25519Key(*x);
  }
  if (!jwk.key) return std::nullopt;
  return jwk;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Jwks>> ParseJwks(std::string_view text) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("Jwks is an invalid JSON");
  }
  auto keys = doc.find("keys");
  if (keys == doc.end()) return absl::InvalidArgumentError("Jwks does not have [keys] field");
  if (!keys->is_array()) return absl::InvalidArgumentError("[keys] in Jwks is not an array");
  auto out = std::make_shared<Jwks>();
  for (const json& key : *keys) {
    if (auto jwk = ParseKey(key)) out->keys.push_back(std::move(*jwk));
  }
  if (out->keys.empty()) {
    return absl::InvalidArgumentError("Jwks doesn't have any valid public key");
  }
  return std::shared_ptr<const Jwks>(std::move(out));
}

}  // namespace weft::jwt
