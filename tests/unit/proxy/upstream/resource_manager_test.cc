#include "proxy/upstream/resource_manager.h"

#include <gtest/gtest.h>

namespace weft::upstream {
namespace {

TEST(ResourceManagerTest, LimitsCountUpAndDown) {
  CircuitBreakerThresholds t;
  t.max_requests = 2;
  ResourceManager r(t);
  EXPECT_TRUE(r.requests.CanCreate());
  r.requests.Inc();
  r.requests.Inc();
  EXPECT_FALSE(r.requests.CanCreate());
  r.requests.Dec();
  EXPECT_TRUE(r.requests.CanCreate());
  EXPECT_EQ(r.connections.max(), 1024u);  // Envoy's defaults
  EXPECT_EQ(r.retries.max(), 3u);
}

TEST(ResourceManagerTest, MaxRetriesWithoutBudget) {
  CircuitBreakerThresholds t;
  t.max_retries = 1;
  ResourceManager r(t);
  EXPECT_TRUE(r.CanRetry());
  r.retries.Inc();
  EXPECT_FALSE(r.CanRetry());
}

TEST(ResourceManagerTest, RetryBudgetIsAShareOfTheRequestsInFlight) {
  CircuitBreakerThresholds t;
  t.max_retries = 1;  // ignored once a budget is set
  t.retry_budget = CircuitBreakerThresholds::RetryBudget{25.0, 2};
  ResourceManager r(t);
  // Few requests in flight: the floor, min_retry_concurrency.
  EXPECT_EQ(r.MaxRetries(), 2u);
  for (int i = 0; i < 40; ++i) r.requests.Inc();
  for (int i = 0; i < 8; ++i) r.pending_requests.Inc();
  EXPECT_EQ(r.MaxRetries(), 12u);  // 25% of 48
  for (int i = 0; i < 12; ++i) {
    EXPECT_TRUE(r.CanRetry());
    r.retries.Inc();
  }
  EXPECT_FALSE(r.CanRetry());
  // The outage deepens only in retries' share: fewer live requests, fewer retries allowed.
  for (int i = 0; i < 40; ++i) r.requests.Dec();
  EXPECT_EQ(r.MaxRetries(), 2u);
  EXPECT_FALSE(r.CanRetry());
}

}  // namespace
}  // namespace weft::upstream
