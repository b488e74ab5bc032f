#include "proxy/router/retry_state.h"

#include <gtest/gtest.h>

namespace weft::router {
namespace {

using F = AttemptFailure;

RetryPolicy Policy(std::string_view retry_on) {
  RetryPolicy p;
  p.retry_on = *ParseRetryOn(retry_on);
  return p;
}

http::HeaderMap Response(std::string status) {
  http::HeaderMap h;
  h.Add(":status", std::move(status));
  return h;
}

TEST(RetryStateTest, ParsesEnvoysWords) {
  EXPECT_EQ(*ParseRetryOn("5xx,gateway-error, reset"),
            RetryPolicy::k5xx | RetryPolicy::kGatewayError | RetryPolicy::kReset);
  EXPECT_EQ(*ParseRetryOn(""), 0u);
  EXPECT_FALSE(ParseRetryOn("5xx,nope").ok());
}

TEST(RetryStateTest, ResponsesByPolicy) {
  EXPECT_TRUE(ShouldRetryResponse(Policy("5xx"), Response("500")));
  EXPECT_TRUE(ShouldRetryResponse(Policy("5xx"), Response("503")));
  EXPECT_FALSE(ShouldRetryResponse(Policy("5xx"), Response("404")));
  EXPECT_FALSE(ShouldRetryResponse(Policy("gateway-error"), Response("500")));
  EXPECT_TRUE(ShouldRetryResponse(Policy("gateway-error"), Response("504")));
  EXPECT_TRUE(ShouldRetryResponse(Policy("retriable-4xx"), Response("409")));
  EXPECT_FALSE(ShouldRetryResponse(Policy("retriable-4xx"), Response("400")));
  EXPECT_FALSE(ShouldRetryResponse(Policy("reset,connect-failure"), Response("503")));

  RetryPolicy codes = Policy("retriable-status-codes");
  codes.retriable_status_codes = {418};
  EXPECT_TRUE(ShouldRetryResponse(codes, Response("418")));
  EXPECT_FALSE(ShouldRetryResponse(codes, Response("500")));

  RetryPolicy headers = Policy("retriable-headers");
  headers.retriable_headers.push_back(HeaderMatcher{.name = "x-retry-me"});
  http::HeaderMap marked = Response("200");
  marked.Add("x-retry-me", "1");
  EXPECT_TRUE(ShouldRetryResponse(headers, marked));
  EXPECT_FALSE(ShouldRetryResponse(headers, Response("200")));
}

TEST(RetryStateTest, GrpcStatusInHeaders) {
  http::HeaderMap unavailable = Response("200");
  unavailable.Add("grpc-status", "14");
  EXPECT_TRUE(ShouldRetryResponse(Policy("unavailable"), unavailable));
  EXPECT_FALSE(ShouldRetryResponse(Policy("cancelled,deadline-exceeded"), unavailable));
  http::HeaderMap exhausted = Response("200");
  exhausted.Add("grpc-status", "8");
  EXPECT_TRUE(ShouldRetryResponse(Policy("resource-exhausted"), exhausted));
  EXPECT_FALSE(ShouldRetryResponse(Policy("5xx"), exhausted));
}

TEST(RetryStateTest, FailuresByPolicy) {
  EXPECT_TRUE(ShouldRetryFailure(Policy("5xx"), F::kConnectFailure));
  EXPECT_TRUE(ShouldRetryFailure(Policy("5xx"), F::kConnectionTermination));
  EXPECT_TRUE(ShouldRetryFailure(Policy("5xx"), F::kPerTryTimeout));
  EXPECT_TRUE(ShouldRetryFailure(Policy("reset"), F::kRemoteReset));
  EXPECT_TRUE(ShouldRetryFailure(Policy("connect-failure"), F::kConnectFailure));
  EXPECT_FALSE(ShouldRetryFailure(Policy("connect-failure"), F::kRemoteReset));
  EXPECT_TRUE(ShouldRetryFailure(Policy("refused-stream"), F::kRefusedStream));
  EXPECT_FALSE(ShouldRetryFailure(Policy("refused-stream"), F::kConnectionTermination));
  EXPECT_FALSE(ShouldRetryFailure(Policy("retriable-4xx"), F::kConnectFailure));
  // Overflow is never retried: a retry would add load where there is no room.
  EXPECT_FALSE(ShouldRetryFailure(Policy("5xx,reset,connect-failure"), F::kOverflow));
}

TEST(RetryStateTest, RetriableRequestHeaders) {
  RetryPolicy p = Policy("5xx");
  http::HeaderMap get;
  get.Add(":method", "GET");
  EXPECT_TRUE(RequestIsRetriable(p, get));
  StringMatcher is_get;
  is_get.value = "GET";
  p.retriable_request_headers.push_back(HeaderMatcher{.name = ":method", .string_match = is_get});
  EXPECT_TRUE(RequestIsRetriable(p, get));
  http::HeaderMap post;
  post.Add(":method", "POST");
  EXPECT_FALSE(RequestIsRetriable(p, post));
}

TEST(RetryStateTest, FullyJitteredExponentialBackoff) {
  RetryPolicy p = Policy("5xx");  // base 25 ms, max 250 ms
  // Retry n waits in [0, (2^n - 1) * base), capped at max_interval.
  for (uint64_t r : {0ull, 1ull, 24ull, 25ull, 1000ull, ~0ull}) {
    EXPECT_LT(RetryBackoff(p, 1, r).count(), 25);
    EXPECT_LT(RetryBackoff(p, 2, r).count(), 75);
    EXPECT_LT(RetryBackoff(p, 3, r).count(), 175);
    EXPECT_LT(RetryBackoff(p, 30, r).count(), 250);
  }
  EXPECT_EQ(RetryBackoff(p, 2, 74).count(), 74);
  EXPECT_EQ(RetryBackoff(p, 2, 75).count(), 0);
}

}  // namespace
}  // namespace weft::router
