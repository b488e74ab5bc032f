// POST /apis/weft.io/v1/namespaces/<ns>/serviceaccounts/<sa>/token: a token that verifies to the
// service account of the path, its expirationSeconds honoured, and bad requests refused.
#include "control/api/token_api.h"

#include <gtest/gtest.h>

#include "unit/control/api/captured_response.h"

namespace weft::control {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr char kPath[] = "/apis/weft.io/v1/namespaces/default/serviceaccounts/productpage/token";

class TokenApiTest : public ::testing::Test {
 protected:
  CapturedResponse Call(const std::string& method, const std::string& path,
                        const std::string& body) {
    HttpRequest request{method, path, {}, body};
    CapturedResponse response;
    api_.Handle(request, response);
    return response;
  }
  system_clock::time_point now_ = system_clock::time_point(seconds(1'800'000'000));
  ca::TokenAuthority tokens_{std::string(32, 'k'), [this] { return now_; }};
  TokenApi api_{tokens_};
};

TEST_F(TokenApiTest, ServesOnlyTheTokenSubresource) {
  EXPECT_TRUE(TokenApi::Serves({"POST", kPath, {}, ""}));
  EXPECT_FALSE(TokenApi::Serves(
      {"POST", "/apis/weft.io/v1/namespaces/default/serviceaccounts/productpage", {}, ""}));
  EXPECT_FALSE(TokenApi::Serves(
      {"GET", "/apis/networking.istio.io/v1/namespaces/default/virtualservices", {}, ""}));
}

TEST_F(TokenApiTest, IssuesTokenForThePathsServiceAccount) {
  CapturedResponse r = Call("POST", kPath, "{}");
  ASSERT_EQ(r.status, 201u) << r.body;
  auto account = tokens_.Verify(r.Json()["token"].get<std::string>());
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->ns, "default");
  EXPECT_EQ(account->name, "productpage");
  // Default lifetime: a year.
  now_ += seconds(364 * 24 * 3600);
  EXPECT_TRUE(tokens_.Verify(r.Json()["token"].get<std::string>()).ok());
}

TEST_F(TokenApiTest, HonoursExpirationSeconds) {
  CapturedResponse r = Call("POST", kPath, R"({"expirationSeconds": 30})");
  ASSERT_EQ(r.status, 201u) << r.body;
  const std::string token = r.Json()["token"].get<std::string>();
  now_ += seconds(29);
  EXPECT_TRUE(tokens_.Verify(token).ok());
  now_ += seconds(1);
  EXPECT_FALSE(tokens_.Verify(token).ok());
}

TEST_F(TokenApiTest, RefusesBadRequests) {
  EXPECT_EQ(Call("GET", kPath, "").status, 405u);
  EXPECT_EQ(Call("POST", kPath, R"({"expirationSeconds": -1})").status, 400u);
  EXPECT_EQ(Call("POST", kPath, R"({"audiences": ["x"]})").status, 400u);
  EXPECT_EQ(Call("POST", kPath, "[").status, 400u);
  EXPECT_EQ(Call("POST", "/apis/weft.io/v1/namespaces/Bad_NS/serviceaccounts/x/token", "").status,
            400u);
}

}  // namespace
}  // namespace weft::control
