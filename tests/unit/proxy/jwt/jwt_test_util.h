// Keys and tokens made in the test with OpenSSL 3, so the JWT tests depend on no fixture file:
// a key pair per algorithm, its public half as a JWK, and compact JWS tokens it signs.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "proxy/jwt/base64url.h"

namespace weft::jwt::testing {

class TestKey {
 public:
  enum class Type { kRsa, kEcP256, kEd25519 };

  explicit TestKey(Type type) : type_(type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
      case Type::kRsa:
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
        break;
      case Type::kEcP256:
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        break;
      case Type::kEd25519:
        key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        break;
    }
    if (key == nullptr) throw std::runtime_error("keygen failed");
    key_.reset(key, EVP_PKEY_free);
  }

  std::string alg() const {
    return type_ == Type::kRsa ? "RS256" : type_ == Type::kEcP256 ? "ES256" : "EdDSA";
  }

  // The public key as a JWK object.
  nlohmann::json Jwk(const std::string& kid) const {
    nlohmann::json j;
    if (!kid.empty()) j["kid"] = kid;
    if (type_ == Type::kRsa) {
      j["kty"] = "RSA";
      j["n"] = BnParam(OSSL_PKEY_PARAM_RSA_N);
      j["e"] = BnParam(OSSL_PKEY_PARAM_RSA_E);
    } else if (type_ == Type::kEcP256) {
      unsigned char point[65];
      size_t len = 0;
      EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                      &len);
      if (len != 65) throw std::runtime_error("unexpected EC point");
      j["kty"] = "EC";
      j["crv"] = "P-256";
      j["x"] = Base64UrlEncode(std::string(reinterpret_cast<char*>(point + 1), 32));
      j["y"] = Base64UrlEncode(std::string(reinterpret_cast<char*>(point + 33), 32));
    } else {
      unsigned char raw[32];
      size_t len = sizeof(raw);
      EVP_PKEY_get_raw_public_key(key_.get(), raw, &len);
      j["kty"] = "OKP";
      j["crv"] = "Ed25519";
      j["x"] = Base64UrlEncode(std::string(reinterpret_cast<char*>(raw), len));
    }
    return j;
  }

  std::string JwksText(const std::string& kid = "k1") const {
    return nlohmann::json{{"keys", nlohmann::json::array({Jwk(kid)})}}.dump();
  }

  // A compact JWS of `payload` with header {"alg": alg(), "kid": kid} (kid left out when empty).
  std::string Sign(const nlohmann::json& payload, const std::string& kid = "k1") const {
    nlohmann::json header{{"alg", alg()}, {"typ", "JWT"}};
    if (!kid.empty()) header["kid"] = kid;
    const std::string input =
        Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
    return input + "." + Base64UrlEncode(RawSignature(input));
  }

 private:
  std::string BnParam(const char* name) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key_.get(), name, &bn);
    std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return Base64UrlEncode(bytes);
  }

  std::string RawSignature(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const EVP_MD* md = type_ == Type::kEd25519 ? nullptr : EVP_sha256();
    EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get());
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size());
    sig.resize(len);
    if (type_ != Type::kEcP256) return sig;
    // DER ECDSA-Sig-Value -> JOSE r||s.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecdsa);
    return raw;
  }

  Type type_;
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace weft::jwt::testing
