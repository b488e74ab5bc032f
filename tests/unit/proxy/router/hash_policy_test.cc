#include "proxy/router/hash_policy.h"

#include <gtest/gtest.h>

#include "proxy/upstream/hash.h"

namespace weft::router {
namespace {

HashPolicy Policy(HashPolicy::Kind kind, std::string name = "", bool terminal = false) {
  HashPolicy p;
  p.kind = kind;
  p.name = std::move(name);
  p.terminal = terminal;
  return p;
}

http::HeaderMap Request(std::string path = "/") {
  http::HeaderMap headers;
  headers.Add(":path", std::move(path));
  return headers;
}

uint64_t Rotl1(uint64_t v) { return (v << 1) | (v >> 63); }

TEST(HashPolicyTest, HeaderValueHash) {
  auto req = Request();
  req.Add("x-user", "alice");
  auto result = ComputeRequestHash({Policy(HashPolicy::Kind::kHeader, "x-user")}, req, "");
  ASSERT_TRUE(result.hash.has_value());
  EXPECT_EQ(*result.hash, upstream::HashKey("alice"));
  // Absent header: no hash.
  EXPECT_FALSE(ComputeRequestHash({Policy(HashPolicy::Kind::kHeader, "x-none")}, req, "").hash);
}

TEST(HashPolicyTest, RepeatedHeaderOrderDoesNotMatter) {
  auto ab = Request();
  ab.Add("x-k", "a");
  ab.Add("x-k", "b");
  auto ba = Request();
  ba.Add("x-k", "b");
  ba.Add("x-k", "a");
  auto policies = std::vector<HashPolicy>{Policy(HashPolicy::Kind::kHeader, "x-k")};
  EXPECT_EQ(ComputeRequestHash(policies, ab, "").hash, ComputeRequestHash(policies, ba, "").hash);
}

TEST(HashPolicyTest, CookieSourceIpAndQueryParameter) {
  auto req = Request("/p?user=bob&x=1");
  req.Add("cookie", "a=1; session=\"s3\"; b=2");
  EXPECT_EQ(ComputeRequestHash({Policy(HashPolicy::Kind::kCookie, "session")}, req, "").hash,
            upstream::HashKey("s3"));
  EXPECT_EQ(ComputeRequestHash({Policy(HashPolicy::Kind::kSourceIp)}, req, "10.1.1.1:5555").hash,
            upstream::HashKey("10.1.1.1"));
  EXPECT_FALSE(ComputeRequestHash({Policy(HashPolicy::Kind::kSourceIp)}, req, "").hash);
  EXPECT_EQ(ComputeRequestHash({Policy(HashPolicy::Kind::kQueryParameter, "user")}, req, "").hash,
            upstream::HashKey("bob"));
  EXPECT_FALSE(
      ComputeRequestHash({Policy(HashPolicy::Kind::kQueryParameter, "none")}, req, "").hash);
}

TEST(HashPolicyTest, CombinesWithRotateXorAndStopsAtTerminal) {
  auto req = Request("/?q=v");
  req.Add("x-a", "1");
  const uint64_t a = upstream::HashKey("1");
  const uint64_t q = upstream::HashKey("v");
  auto result = ComputeRequestHash(
      {Policy(HashPolicy::Kind::kHeader, "x-a"), Policy(HashPolicy::Kind::kQueryParameter, "q")},
      req, "");
  EXPECT_EQ(*result.hash, Rotl1(a) ^ q);
  // Duplicate policies do not cancel out.
  result = ComputeRequestHash(
      {Policy(HashPolicy::Kind::kHeader, "x-a"), Policy(HashPolicy::Kind::kHeader, "x-a")}, req,
      "");
  EXPECT_EQ(*result.hash, Rotl1(a) ^ a);
  EXPECT_NE(*result.hash, 0u);
  // Terminal with a hash stops; terminal without one does not.
  result = ComputeRequestHash({Policy(HashPolicy::Kind::kHeader, "x-a", /*terminal=*/true),
                               Policy(HashPolicy::Kind::kQueryParameter, "q")},
                              req, "");
  EXPECT_EQ(*result.hash, a);
  result = ComputeRequestHash({Policy(HashPolicy::Kind::kHeader, "x-missing", true),
                               Policy(HashPolicy::Kind::kQueryParameter, "q")},
                              req, "");
  EXPECT_EQ(*result.hash, q);
}

TEST(HashPolicyTest, CookieWithTtlIsGeneratedWhenAbsent) {
  HashPolicy policy = Policy(HashPolicy::Kind::kCookie, "affinity");
  policy.cookie_ttl = std::chrono::seconds(3600);
  policy.cookie_path = "/app";
  auto req = Request();
  auto result = ComputeRequestHash({policy}, req, "10.0.0.7:1234");
  ASSERT_TRUE(result.set_cookie.has_value());
  ASSERT_TRUE(result.hash.has_value());
  EXPECT_EQ(result.set_cookie->name, "affinity");
  EXPECT_EQ(result.set_cookie->value.size(), 16u);
  EXPECT_EQ(*result.hash, upstream::HashKey(result.set_cookie->value));
  EXPECT_EQ(FormatSetCookie(*result.set_cookie),
            "affinity=\"" + result.set_cookie->value + "\"; Max-Age=3600; Path=/app; HttpOnly");
  // The client sends it back: same hash, nothing to set.
  req.Add("cookie", "affinity=" + result.set_cookie->value);
  auto again = ComputeRequestHash({policy}, req, "10.0.0.7:1234");
  EXPECT_FALSE(again.set_cookie.has_value());
  EXPECT_EQ(again.hash, result.hash);
  // Without ttl nothing is generated.
  EXPECT_FALSE(ComputeRequestHash({Policy(HashPolicy::Kind::kCookie, "affinity")}, Request(),
                                  "10.0.0.7:1234")
                   .hash);
}

}  // namespace
}  // namespace weft::router
