#include "proxy/jwt/jwt.h"

#include <gtest/gtest.h>

#include "proxy/jwt/base64url.h"
#include "unit/proxy/jwt/jwt_test_util.h"

namespace weft::jwt {
namespace {

using testing::TestKey;
using json = nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;

TEST(Base64UrlTest, RoundTripsAllLengthsAndRejectsBadInput) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 250));
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes) << i;
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("aGk="), "hi");  // padding accepted
  EXPECT_FALSE(Base64UrlDecode("a+b/"));     // standard alphabet is not base64url
  EXPECT_FALSE(Base64UrlDecode("abcde"));    // impossible length
}

// Each key type: a good token verifies; a token signed by another key of the same type, or
// with a byte of its payload changed, does not.
class SignatureTest : public ::testing::TestWithParam<TestKey::Type> {};

TEST_P(SignatureTest, VerifiesGoodAndRefusesBadSignatures) {
  const TestKey key(GetParam());
  const TestKey other(GetParam());
  auto jwks = ParseJwks(key.JwksText());
  ASSERT_TRUE(jwks.ok()) << jwks.status();
  const json payload{{"iss", "https://issuer.test"}, {"sub", "alice"}, {"exp", kNow + 60}};

  Jwt good;
  ASSERT_EQ(ParseJwt(key.Sign(payload), good), Status::kOk);
  EXPECT_EQ(good.alg, key.alg());
  EXPECT_EQ(good.iss, "https://issuer.test");
  EXPECT_EQ(VerifySignature(good, **jwks), Status::kOk);

  Jwt forged;
  ASSERT_EQ(ParseJwt(other.Sign(payload), forged), Status::kOk);
  EXPECT_EQ(VerifySignature(forged, **jwks), Status::kVerificationFail);

  // Same signature over a different payload.
  const std::string token = key.Sign(payload);
  const size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string tampered =
      token.substr(0, dot1 + 1) +
      Base64UrlEncode(json{{"iss", "https://issuer.test"}, {"sub", "mallory"}}.dump()) +
      token.substr(dot2);
  Jwt changed;
  ASSERT_EQ(ParseJwt(tampered, changed), Status::kOk);
  EXPECT_EQ(VerifySignature(changed, **jwks), Status::kVerificationFail);

  // A kid the set does not have.
  Jwt unknown_kid;
  ASSERT_EQ(ParseJwt(key.Sign(payload, "k2"), unknown_kid), Status::kOk);
  EXPECT_EQ(VerifySignature(unknown_kid, **jwks), Status::kJwksKidAlgMismatch);
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, SignatureTest,
                         ::testing::Values(TestKey::Type::kRsa, TestKey::Type::kEcP256,
                                           TestKey::Type::kEd25519));

TEST(JwtTest, AlgorithmMustFitTheKey) {
  const TestKey ec(TestKey::Type::kEcP256);
  const TestKey ed(TestKey::Type::kEd25519);
  auto jwks = ParseJwks(ec.JwksText());
  ASSERT_TRUE(jwks.ok());
  Jwt token;
  ASSERT_EQ(ParseJwt(ed.Sign(json{{"sub", "x"}}), token), Status::kOk);
  EXPECT_EQ(VerifySignature(token, **jwks), Status::kJwksKidAlgMismatch);
}

TEST(JwtTest, AlgNoneAndHmacAreRefused) {
  const std::string payload = Base64UrlEncode(R"({"sub":"admin"})");
  Jwt t;
  EXPECT_EQ(ParseJwt(Base64UrlEncode(R"({"alg":"none"})") + "." + payload + ".", t),
            Status::kHeaderNotImplementedAlg);
  EXPECT_EQ(ParseJwt(Base64UrlEncode(R"({"alg":"HS256"})") + "." + payload + ".c2ln", t),
            Status::kHeaderNotImplementedAlg);
  EXPECT_EQ(ParseJwt(Base64UrlEncode(R"({"typ":"JWT"})") + "." + payload + ".c2ln", t),
            Status::kHeaderBadAlg);
}

TEST(JwtTest, MalformedTokens) {
  Jwt t;
  EXPECT_EQ(ParseJwt("abc", t), Status::kBadFormat);
  EXPECT_EQ(ParseJwt("a.b.c.d", t), Status::kBadFormat);
  EXPECT_EQ(ParseJwt("!!.e30.c2ln", t), Status::kHeaderBadBase64);
  EXPECT_EQ(ParseJwt(Base64UrlEncode("{not json") + ".e30.c2ln", t), Status::kHeaderBadJson);
  const std::string header = Base64UrlEncode(R"({"alg":"RS256"})");
  EXPECT_EQ(ParseJwt(header + "." + Base64UrlEncode("[1]") + ".c2ln", t), Status::kPayloadBadJson);
  EXPECT_EQ(ParseJwt(header + "." + Base64UrlEncode(R"({"exp":"soon"})") + ".c2ln", t),
            Status::kPayloadBadClaim);
  EXPECT_EQ(ParseJwt(header + ".e30.c2ln*", t), Status::kSignatureBadBase64);
}

TEST(JwtTest, TimeClaimsWithClockSkew) {
  Jwt t;
  t.exp = kNow;
  t.nbf = kNow - 100;
  EXPECT_EQ(CheckTime(t, kNow, 60), Status::kOk);
  EXPECT_EQ(CheckTime(t, kNow + 60, 60), Status::kOk);  // within the skew
  EXPECT_EQ(CheckTime(t, kNow + 61, 60), Status::kExpired);
  EXPECT_EQ(CheckTime(t, kNow - 161, 60), Status::kNotYetValid);
  EXPECT_EQ(CheckTime(t, kNow - 160, 60), Status::kOk);
}

TEST(JwksTest, RefusesSetsWithoutUsableKeys) {
  EXPECT_EQ(ParseJwks("nope").status().message(), "Jwks is an invalid JSON");
  EXPECT_EQ(ParseJwks("{}").status().message(), "Jwks does not have [keys] field");
  EXPECT_EQ(ParseJwks(R"({"keys":{}})").status().message(), "[keys] in Jwks is not an array");
  EXPECT_EQ(ParseJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})").status().message(),
            "Jwks doesn't have any valid public key");
  EXPECT_FALSE(ParseJwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})").ok());
}

}  // namespace
}  // namespace weft::jwt
