#include "proxy/router/retry_state.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "http/grpc.h"
#include "proxy/router/route_matcher.h"

namespace weft::router {
namespace {

struct Word {
  std::string_view name;
  uint32_t bit;
};
// Envoy's names (router filter docs, x-envoy-retry-on and x-envoy-retry-grpc-on).
constexpr Word kWords[] = {
    {"5xx", RetryPolicy::k5xx},
    {"gateway-error", RetryPolicy::kGatewayError},
    {"reset", RetryPolicy::kReset},
    {"reset-before-request", RetryPolicy::kResetBeforeRequest},
    {"connect-failure", RetryPolicy::kConnectFailure},
    {"retriable-4xx", RetryPolicy::kRetriable4xx},
    {"refused-stream", RetryPolicy::kRefusedStream},
    {"retriable-status-codes", RetryPolicy::kRetriableStatusCodes},
    {"retriable-headers", RetryPolicy::kRetriableHeaders},
    {"envoy-ratelimited", RetryPolicy::kEnvoyRateLimited},
    {"cancelled", RetryPolicy::kGrpcCancelled},
    {"deadline-exceeded", RetryPolicy::kGrpcDeadlineExceeded},
    {"resource-exhausted", RetryPolicy::kGrpcResourceExhausted},
    {"unavailable", RetryPolicy::kGrpcUnavailable},
    {"internal", RetryPolicy::kGrpcInternal},
};

using http::kGrpcCancelled;
using http::kGrpcDeadlineExceeded;
using http::kGrpcInternal;
using http::kGrpcResourceExhausted;
using http::kGrpcUnavailable;

uint32_t StatusCode(const http::HeaderMap& response) {
  uint32_t code = 0;
  std::string_view s = response.Status();
  if (!absl::SimpleAtoi(absl::string_view(s.data(), s.size()), &code)) return 0;
  return code;
}

}  // namespace

absl::StatusOr<uint32_t> ParseRetryOn(std::string_view words) {
  uint32_t bits = 0;
  for (absl::string_view w : absl::StrSplit(absl::string_view(words.data(), words.size()), ',')) {
    w = absl::StripAsciiWhitespace(w);
    if (w.empty()) continue;
    const Word* found = nullptr;
    for (const Word& k : kWords) {
      if (k.name == std::string_view(w.data(), w.size())) found = &k;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown retry condition \"", w, "\""));
    }
    bits |= found->bit;
  }
  return bits;
}

bool ShouldRetryResponse(const RetryPolicy& p, const http::HeaderMap& response) {
  const uint32_t code = StatusCode(response);
  if ((p.retry_on & RetryPolicy::k5xx) && code >= 500 && code < 600) return true;
  if ((p.retry_on & RetryPolicy::kGatewayError) && code >= 502 && code <= 504) return true;
  if ((p.retry_on & RetryPolicy::kRetriable4xx) && code == 409) return true;
  if ((p.retry_on & RetryPolicy::kRetriableStatusCodes) &&
      std::find(p.retriable_status_codes.begin(), p.retriable_status_codes.end(), code) !=
          p.retriable_status_codes.end()) {
    return true;
  }
  if ((p.retry_on & RetryPolicy::kRetriableHeaders)) {
    for (const auto& m : p.retriable_headers) {
      if (MatchHeader(m, response)) return true;
    }
  }
  if ((p.retry_on & RetryPolicy::kEnvoyRateLimited) && response.Has("x-envoy-ratelimited")) {
    return true;
  }
  constexpr uint32_t kGrpcBits = RetryPolicy::kGrpcCancelled | RetryPolicy::kGrpcDeadlineExceeded |
                                 RetryPolicy::kGrpcResourceExhausted |
                                 RetryPolicy::kGrpcUnavailable | RetryPolicy::kGrpcInternal;
  if (p.retry_on & kGrpcBits) {
    const std::string* grpc = response.Get("grpc-status");
    uint32_t g = 0;
    if (grpc != nullptr && absl::SimpleAtoi(absl::string_view(*grpc), &g)) {
      if (((p.retry_on & RetryPolicy::kGrpcCancelled) && g == kGrpcCancelled) ||
          ((p.retry_on & RetryPolicy::kGrpcDeadlineExceeded) && g == kGrpcDeadlineExceeded) ||
          ((p.retry_on & RetryPolicy::kGrpcResourceExhausted) && g == kGrpcResourceExhausted) ||
          ((p.retry_on & RetryPolicy::kGrpcUnavailable) && g == kGrpcUnavailable) ||
          ((p.retry_on & RetryPolicy::kGrpcInternal) && g == kGrpcInternal)) {
        return true;
      }
    }
  }
  return false;
}

bool ShouldRetryFailure(const RetryPolicy& p, AttemptFailure failure) {
  constexpr uint32_t kAnyNoResponse =
      RetryPolicy::k5xx | RetryPolicy::kGatewayError | RetryPolicy::kReset;
  switch (failure) {
    case AttemptFailure::kOverflow:
      return false;
    case AttemptFailure::kConnectFailure:
      return (p.retry_on & (kAnyNoResponse | RetryPolicy::kConnectFailure |
                            RetryPolicy::kResetBeforeRequest)) != 0;
    case AttemptFailure::kRefusedStream:
      return (p.retry_on & (kAnyNoResponse | RetryPolicy::kRefusedStream)) != 0;
    case AttemptFailure::kConnectionTermination:
    case AttemptFailure::kRemoteReset:
    case AttemptFailure::kProtocolError:
    case AttemptFailure::kPerTryTimeout:
      return (p.retry_on & kAnyNoResponse) != 0;
  }
  return false;
}

bool RequestIsRetriable(const RetryPolicy& p, const http::HeaderMap& request) {
  if (p.retriable_request_headers.empty()) return true;
  for (const auto& m : p.retriable_request_headers) {
    if (MatchHeader(m, request)) return true;
  }
  return false;
}

std::chrono::milliseconds RetryBackoff(const RetryPolicy& p, uint32_t retry, uint64_t random) {
  const uint64_t base = static_cast<uint64_t>(std::max<int64_t>(p.base_interval.count(), 1));
  const uint64_t max = static_cast<uint64_t>(std::max<int64_t>(p.max_interval.count(), 1));
  const uint32_t shift = std::min<uint32_t>(retry, 32);
  const uint64_t ceiling = std::min<uint64_t>(((uint64_t{1} << shift) - 1) * base, max);
  return std::chrono::milliseconds(ceiling == 0 ? 0 : random % ceiling);
}

}  // namespace weft::router
