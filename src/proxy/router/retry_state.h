// Which failed attempts a route's RetryPolicy retries, and how long to wait before the retry,
// following Envoy's router (docs: "x-envoy-retry-on", "x-envoy-retry-grpc-on", "retry_back_off"):
//   5xx            any 5xx response, and any attempt that got no response at all (reset,
//                  connect failure, refused stream, per-try timeout)
//   gateway-error  502, 503, 504, and attempts that got no response
//   reset          attempts that got no response (reset, disconnect, per-try timeout)
//   connect-failure, refused-stream: those failures only
//   retriable-4xx  409;  retriable-status-codes / retriable-headers: as configured
//   cancelled, deadline-exceeded, resource-exhausted, unavailable, internal: the grpc-status of a
//                  gRPC response that carries it in its headers (a trailers-only response)
// Back-off: "fully jittered" exponential, the n-th retry waits a uniformly random time in
// [0, (2^n - 1) * base_interval), capped at max_interval.
//
// Stateless functions over immutable config; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/header_map.h"
#include "proxy/router/route_config.h"

namespace weft::router {

// Why an attempt ended without a response.
enum class AttemptFailure {
  kConnectFailure,
  kConnectionTermination,  // the upstream connection closed under the request
  kRemoteReset,            // the upstream reset the stream
  kRefusedStream,          // HTTP/2 REFUSED_STREAM: the upstream did not process the request
  kProtocolError,          // the upstream's response broke the protocol
  kPerTryTimeout,
  kOverflow,  // circuit breaker / full pool (never retried: retrying adds load where there is no
              // room)
};

// Parses Envoy's comma-separated retry_on / x-envoy-retry-on / x-envoy-retry-grpc-on words
// into RetryPolicy::RetryOn bits; unknown words are an error naming them.
absl::StatusOr<uint32_t> ParseRetryOn(std::string_view words);

bool ShouldRetryResponse(const RetryPolicy& policy, const http::HeaderMap& response);
bool ShouldRetryFailure(const RetryPolicy& policy, AttemptFailure failure);
// Whether the request is one the policy may retry (retriable_request_headers).
bool RequestIsRetriable(const RetryPolicy& policy, const http::HeaderMap& request);

// The wait before retry number `retry` (1 for the first), given a uniformly random value.
std::chrono::milliseconds RetryBackoff(const RetryPolicy& policy, uint32_t retry, uint64_t random);

}  // namespace weft::router
