#include "http/grpc.h"

namespace weft::http {

bool IsGrpcRequest(const HeaderMap& headers) {
  std::string_view ct = headers.GetOr("content-type");
  constexpr std::string_view kGrpc = "application/grpc";
  if (ct.substr(0, kGrpc.size()) != kGrpc) return false;
  return ct.size() == kGrpc.size() || ct[kGrpc.size()] == '+' || ct[kGrpc.size()] == ';';
}

std::optional<std::chrono::milliseconds> ParseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  uint64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  using std::chrono::milliseconds;
  switch (value.back()) {
    case 'H':
      return milliseconds(n * 3600 * 1000);
    case 'M':
      return milliseconds(n * 60 * 1000);
    case 'S':
      return milliseconds(n * 1000);
    case 'm':
      return milliseconds(n);
    case 'u':  // rounded up: a deadline must not shrink to zero
      return milliseconds((n + 999) / 1000);
    case 'n':
      return milliseconds((n + 999999) / 1000000);
    default:
      return std::nullopt;
  }
}

uint32_t HttpToGrpcStatus(uint32_t http_status) {
  switch (http_status) {
    case 400:
      return kGrpcInternal;
    case 401:
      return kGrpcUnauthenticated;
    case 403:
      return kGrpcPermissionDenied;
    case 404:
      return kGrpcUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return kGrpcUnavailable;
    default:
      return kGrpcUnknown;
  }
}

}  // namespace weft::http
