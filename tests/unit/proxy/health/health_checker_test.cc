#include "proxy/health/health_checker.h"

#include "gtest/gtest.h"

namespace weft::health {
namespace {

TEST(HealthCheckerTest, ExpectedStatusesDefaultTo200Only) {
  upstream::HealthCheckConfig c;
  EXPECT_TRUE(IsExpectedStatus(c, 200));
  EXPECT_FALSE(IsExpectedStatus(c, 204));
  EXPECT_FALSE(IsExpectedStatus(c, 503));
  c.expected_statuses = {{200, 300}, {404, 405}};  // half-open ranges
  EXPECT_TRUE(IsExpectedStatus(c, 204));
  EXPECT_TRUE(IsExpectedStatus(c, 299));
  EXPECT_FALSE(IsExpectedStatus(c, 300));
  EXPECT_TRUE(IsExpectedStatus(c, 404));
  EXPECT_FALSE(IsExpectedStatus(c, 405));
}

TEST(HealthCheckerTest, TcpPayloadsMatchInOrderNotNecessarilyAdjacent) {
  EXPECT_TRUE(ContainsPayloadsInOrder("xxpongyyok", {"pong", "ok"}));
  EXPECT_FALSE(ContainsPayloadsInOrder("okpong", {"pong", "ok"}));
  EXPECT_FALSE(ContainsPayloadsInOrder("pon", {"pong"}));
  EXPECT_TRUE(ContainsPayloadsInOrder("", {}));
}

}  // namespace
}  // namespace weft::health
