#include "http/grpc.h"

#include "absl/status/status.h"

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

constexpr size_t kGrpcPrefixBytes = 5;

std::string FrameGrpcMessage(std::string_view message) {
  std::string out;
  out.reserve(kGrpcPrefixBytes + message.size());
  out.push_back('\0');
  const auto n = static_cast<uint32_t>(message.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(message);
  return out;
}

absl::StatusOr<std::string_view> UnframeSingleGrpcMessage(std::string_view body) {
  if (body.size() < kGrpcPrefixBytes) return absl::InvalidArgumentError("no gRPC message");
  if (body[0] != 0) return absl::InvalidArgumentError("compressed gRPC message");
  uint32_t n = 0;
  for (size_t i = 1; i < kGrpcPrefixBytes; ++i) n = (n << 8) | static_cast<uint8_t>(body[i]);
  if (body.size() - kGrpcPrefixBytes != n) {
    return absl::InvalidArgumentError("gRPC message length does not match the body");
  }
  return body.substr(kGrpcPrefixBytes);
}

}  // namespace weft::http
