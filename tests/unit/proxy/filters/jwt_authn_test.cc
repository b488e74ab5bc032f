#include "proxy/filters/jwt_authn.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "proxy/jwt/base64url.h"
#include "unit/proxy/jwt/jwt_test_util.h"

namespace weft::filters {
namespace {

using jwt::testing::TestKey;
using json = nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;
constexpr char kIssuer[] = "https://issuer.test";

class FakeCallbacks : public FilterCallbacks {
 public:
  event::Dispatcher& dispatcher() override { std::abort(); }
  Random& random() override { return random_; }
  stats::Store& stats() override { return stats_; }
  const std::string& stat_prefix() override { return prefix_; }
  access_log::StreamInfo& info() override { return info_; }
  const router::RouteFilterConfig* PerRouteConfig(std::string_view) override { return nullptr; }
  const router::RouteEntry* route() override { return nullptr; }
  void ContinueDecoding() override {}
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details, uint64_t,
                      std::optional<uint32_t>) override {
    replied_status = status;
    replied_body = std::string(body);
    replied_details = std::string(details);
  }

  FastRandom random_{1};
  stats::Store stats_;
  std::string prefix_ = "http.in.";
  access_log::StreamInfo info_;
  uint32_t replied_status = 0;
  std::string replied_body, replied_details;
};

JwtRequirement Provider(std::string name) {
  JwtRequirement r;
  r.provider_name = std::move(name);
  return r;
}

JwtRequirement Of(JwtRequirement::Kind kind, std::vector<JwtRequirement> children = {}) {
  JwtRequirement r;
  r.kind = kind;
  r.requirements = std::move(children);
  return r;
}

class JwtAuthnFilterTest : public ::testing::Test {
 protected:
  static const TestKey& Key() {
    static const TestKey key(TestKey::Type::kRsa);
    return key;
  }

  JwtAuthnFilterTest() {
    JwtProviderConfig p;
    p.issuer = kIssuer;
    p.audiences = {"bookinfo"};
    p.jwks = *jwt::ParseJwks(Key().JwksText());
    p.forward_payload_header = "x-jwt-payload";
    p.payload_in_metadata = "my_payload";
    p.claim_to_headers = {{"x-sub", "sub"}, {"x-team", "org.team"}};
    config_.providers["main"] = p;
    config_.allowed_stat = "http.in.jwt_authn.allowed";
    config_.denied_stat = "http.in.jwt_authn.denied";
    config_.now_seconds = [] { return kNow; };
    SetRequirement(Provider("main"));
  }

  void SetRequirement(std::optional<JwtRequirement> requirement, std::string prefix = "/") {
    config_.rules.clear();
    JwtRule rule;
    rule.path = std::move(prefix);
    rule.requirement = std::move(requirement);
    config_.rules.push_back(std::move(rule));
  }

  static json Claims() {
    return {{"iss", kIssuer},
            {"sub", "alice"},
            {"aud", "bookinfo"},
            {"exp", kNow + 600},
            {"org", {{"team", "blue"}}},
            {"groups", {"a", "b"}}};
  }

  // Runs the filter on a request carrying `authorization` (when not empty); returns whether it
  // let the request through.
  bool Run(std::string authorization, std::string path = "/api") {
    request_ = http::HeaderMap();
    request_.Add(":method", "GET");
    request_.Add(":path", path);
    request_.Add(":authority", "svc.test");
    if (!authorization.empty()) request_.Add("authorization", authorization);
    auto factory =
        CreateJwtAuthnFilterFactory("jwt", std::make_shared<const JwtAuthnConfig>(config_));
    auto filter = factory->Create(callbacks_);
    const FilterStatus status = filter->DecodeHeaders(request_, true);
    response_ = http::HeaderMap();
    if (status == FilterStatus::kLocalReplySent) {
      response_.Add(":status", std::to_string(callbacks_.replied_status));
      filter->EncodeHeaders(response_, true);
    }
    return status == FilterStatus::kContinue;
  }

  uint64_t Count(std::string_view name) { return callbacks_.stats_.counter(name).value(); }

  JwtAuthnConfig config_;
  FakeCallbacks callbacks_;
  http::HeaderMap request_, response_;
};

TEST_F(JwtAuthnFilterTest, ValidTokenPassesWithHeadersAndMetadata) {
  const std::string token = Key().Sign(Claims());
  ASSERT_TRUE(Run("Bearer " + token));
  EXPECT_EQ(Count("http.in.jwt_authn.allowed"), 1u);
  EXPECT_FALSE(request_.Has("authorization"));  // forward: false strips the token
  EXPECT_EQ(request_.GetOr("x-sub"), "alice");
  EXPECT_EQ(request_.GetOr("x-team"), "blue");
  const auto payload = jwt::Base64UrlDecode(request_.GetOr("x-jwt-payload"));
  ASSERT_TRUE(payload);
  EXPECT_EQ(json::parse(*payload)["sub"], "alice");

  auto& istio = callbacks_.info_.dynamic_metadata.at("istio_authn");
  EXPECT_EQ(istio.at("request.auth.principal"),
            std::vector<std::string>{"https://issuer.test/alice"});
  EXPECT_EQ(istio.at("request.auth.audiences"), std::vector<std::string>{"bookinfo"});
  EXPECT_EQ(istio.at("request.auth.claims.groups"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(json::parse(callbacks_.info_.dynamic_metadata.at("envoy.filters.http.jwt_authn")
                            .at("my_payload")
                            .at(0))["sub"],
            "alice");
}

TEST_F(JwtAuthnFilterTest, ForwardKeepsTheToken) {
  config_.providers["main"].forward = true;
  ASSERT_TRUE(Run("Bearer " + Key().Sign(Claims())));
  EXPECT_TRUE(request_.Has("authorization"));
}

TEST_F(JwtAuthnFilterTest, MissingTokenIs401WithChallenge) {
  EXPECT_FALSE(Run(""));
  EXPECT_EQ(callbacks_.replied_status, 401u);
  EXPECT_EQ(callbacks_.replied_body, "Jwt is missing");
  EXPECT_EQ(callbacks_.replied_details, "jwt_authn_access_denied{Jwt_is_missing}");
  EXPECT_EQ(response_.GetOr("www-authenticate"), "Bearer realm=\"http://svc.test/api\"");
  EXPECT_EQ(Count("http.in.jwt_authn.denied"), 1u);
}

TEST_F(JwtAuthnFilterTest, InvalidTokensAreRefusedWithEnvoysReasons) {
  struct Case {
    std::string name;
    json claims;
    uint32_t status;
    std::string body;
  };
  json expired = Claims(), early = Claims(), issuer = Claims(), audience = Claims();
  expired["exp"] = kNow - 61;
  early["nbf"] = kNow + 61;
  issuer["iss"] = "https://other.test";
  audience["aud"] = json::array({"reviews"});
  for (const Case& c :
       {Case{"expired", expired, 401, "Jwt is expired"},
        Case{"not yet valid", early, 401, "Jwt not yet valid"},
        Case{"wrong issuer", issuer, 401, "Jwt issuer is not configured"},
        Case{"wrong audience", audience, 403, "Audiences in Jwt are not allowed"}}) {
    EXPECT_FALSE(Run("Bearer " + Key().Sign(c.claims))) << c.name;
    EXPECT_EQ(callbacks_.replied_status, c.status) << c.name;
    EXPECT_EQ(callbacks_.replied_body, c.body) << c.name;
    EXPECT_EQ(response_.GetOr("www-authenticate"),
              "Bearer realm=\"http://svc.test/api\", error=\"invalid_token\"")
        << c.name;
  }
  const TestKey stranger(TestKey::Type::kRsa);
  EXPECT_FALSE(Run("Bearer " + stranger.Sign(Claims())));
  EXPECT_EQ(callbacks_.replied_body, "Jwt verification fails");
  EXPECT_FALSE(Run("Bearer not-a-jwt"));
  EXPECT_EQ(callbacks_.replied_status, 401u);
  EXPECT_EQ(Count("http.in.jwt_authn.denied"), 6u);
  EXPECT_EQ(Count("http.in.jwt_authn.allowed"), 0u);
}

TEST_F(JwtAuthnFilterTest, AllowMissingPassesNoTokenButNotABadOne) {
  // Istio's RequestAuthentication: requires_any [provider, allow_missing].
  SetRequirement(Of(JwtRequirement::Kind::kRequiresAny,
                    {Provider("main"), Of(JwtRequirement::Kind::kAllowMissing)}));
  EXPECT_TRUE(Run(""));
  EXPECT_TRUE(callbacks_.info_.dynamic_metadata.empty());
  EXPECT_TRUE(Run("Bearer " + Key().Sign(Claims())));
  json expired = Claims();
  expired["exp"] = kNow - 3600;
  EXPECT_FALSE(Run("Bearer " + Key().Sign(expired)));
  EXPECT_EQ(callbacks_.replied_body, "Jwt is expired");
}

TEST_F(JwtAuthnFilterTest, AllowMissingOrFailedPassesEverything) {
  SetRequirement(Of(JwtRequirement::Kind::kAllowMissingOrFailed));
  EXPECT_TRUE(Run(""));
  EXPECT_TRUE(Run("Bearer garbage"));
}

TEST_F(JwtAuthnFilterTest, RulesMatchByPrefixAndPath) {
  SetRequirement(Provider("main"), "/secure");
  EXPECT_TRUE(Run("", "/public"));
  EXPECT_FALSE(Run("", "/secure/x"));
  config_.rules[0].exact_path = true;
  EXPECT_TRUE(Run("", "/secure/x"));
  EXPECT_FALSE(Run("", "/secure?q=1"));
}

TEST_F(JwtAuthnFilterTest, TokenFromCustomHeaderAndQueryParameter) {
  auto& p = config_.providers["main"];
  p.from_headers = {{"x-token", "Token "}};
  p.from_params = {"jwt"};
  const std::string token = Key().Sign(Claims());
  EXPECT_FALSE(Run("Bearer " + token));  // Authorization is no longer looked at
  EXPECT_TRUE(Run("", "/api?a=1&jwt=" + token));
  request_ = http::HeaderMap();
  request_.Add(":path", "/api");
  request_.Add("x-token", "Token " + token);
  // The factory owns the config the filter reads: it must outlive the filter.
  auto factory =
      CreateJwtAuthnFilterFactory("jwt", std::make_shared<const JwtAuthnConfig>(config_));
  auto filter = factory->Create(callbacks_);
  EXPECT_EQ(filter->DecodeHeaders(request_, true), FilterStatus::kContinue);
  EXPECT_FALSE(request_.Has("x-token"));
}

TEST_F(JwtAuthnFilterTest, ProviderAndAudiencesOverridesTheProvidersAudiences) {
  JwtRequirement r = Provider("main");
  r.audiences = {"reviews"};
  SetRequirement(r);
  EXPECT_FALSE(Run("Bearer " + Key().Sign(Claims())));
  EXPECT_EQ(callbacks_.replied_status, 403u);
  json claims = Claims();
  claims["aud"] = "reviews";
  EXPECT_TRUE(Run("Bearer " + Key().Sign(claims)));
}

}  // namespace
}  // namespace weft::filters
