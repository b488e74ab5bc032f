// TokenAuthority: tokens it issues verify to their service account; expired, forged, re-signed
// with another key, "alg": "none" and malformed tokens are refused.
#include "control/ca/token_authority.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/escaping.h"

namespace weft::control::ca {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

struct FakeClock {
  system_clock::time_point now = system_clock::time_point(seconds(1'800'000'000));
  TokenAuthority::Clock fn() {
    return [this] { return now; };
  }
};

TEST(TokenAuthorityTest, IssuedTokenVerifiesToItsServiceAccount) {
  FakeClock clock;
  TokenAuthority tokens(std::string(32, 'k'), clock.fn());
  std::string token = tokens.Issue({"default", "productpage"}, seconds(60));
  auto account = tokens.Verify(token);
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->ns, "default");
  EXPECT_EQ(account->name, "productpage");
}

TEST(TokenAuthorityTest, ExpiredTokenRefused) {
  FakeClock clock;
  TokenAuthority tokens(std::string(32, 'k'), clock.fn());
  std::string token = tokens.Issue({"default", "productpage"}, seconds(60));
  clock.now += seconds(60);
  auto account = tokens.Verify(token);
  EXPECT_EQ(account.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(account.status().message().find("expired"), absl::string_view::npos);
}

TEST(TokenAuthorityTest, ForgedTokensRefused) {
  FakeClock clock;
  TokenAuthority tokens(std::string(32, 'k'), clock.fn());
  TokenAuthority other(std::string(32, 'x'), clock.fn());
  // Signed with another key.
  EXPECT_FALSE(tokens.Verify(other.Issue({"default", "productpage"}, seconds(60))).ok());
  // Payload swapped for another identity, signature kept.
  std::string good = tokens.Issue({"default", "productpage"}, seconds(60));
  std::string evil = tokens.Issue({"kube-system", "admin"}, seconds(60));
  const size_t g1 = good.find('.'), g2 = good.rfind('.');
  const size_t e1 = evil.find('.'), e2 = evil.rfind('.');
  std::string spliced = good.substr(0, g1) + evil.substr(e1, e2 - e1) + good.substr(g2);
  EXPECT_FALSE(tokens.Verify(spliced).ok());
  // alg none, no signature.
  std::string header, payload;
  absl::WebSafeBase64Escape(R"({"alg":"none"})", &header);
  absl::WebSafeBase64Escape(
      R"({"iss":"weftd","sub":"system:serviceaccount:default:productpage","exp":9999999999})",
      &payload);
  EXPECT_FALSE(tokens.Verify(header + "." + payload + ".").ok());
  // Malformed.
  EXPECT_FALSE(tokens.Verify("").ok());
  EXPECT_FALSE(tokens.Verify("a.b").ok());
  EXPECT_FALSE(tokens.Verify("a.b.c.d").ok());
  EXPECT_FALSE(tokens.Verify(good + "x").ok());
}

TEST(TokenAuthorityTest, KeyFileMadeOnceWithMode0600) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("weft-token-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "token-key").string();
  auto first = TokenAuthority::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token = (*first)->Issue({"ns", "sa"}, seconds(60));
  auto second = TokenAuthority::Open(path);  // a restart: same key, old tokens still verify
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE((*second)->Verify(token).ok());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weft::control::ca
