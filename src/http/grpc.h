// The few gRPC-over-HTTP/2 rules a proxy needs (grpc/doc/PROTOCOL-HTTP2.md and
// grpc/doc/http-grpc-status-mapping.md): recognising a gRPC request, reading its grpc-timeout,
// the gRPC status a local HTTP error becomes, and the length-prefixed message framing (for the
// proxy's own gRPC calls, such as health checks).
//
// Stateless; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "http/header_map.h"

namespace weft::http {

// gRPC status codes (grpc/doc/statuscodes.md) used by the proxy.
enum GrpcStatus : uint32_t {
  kGrpcOk = 0,
  kGrpcCancelled = 1,
  kGrpcUnknown = 2,
  kGrpcDeadlineExceeded = 4,
  kGrpcPermissionDenied = 7,
  kGrpcResourceExhausted = 8,
  kGrpcUnimplemented = 12,
  kGrpcInternal = 13,
  kGrpcUnavailable = 14,
  kGrpcUnauthenticated = 16,
};

// content-type "application/grpc" or "application/grpc+<format>" / ";<params>".
bool IsGrpcRequest(const HeaderMap& headers);

// grpc-timeout: 1 to 8 digits and a unit (H M S m u n); nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> ParseGrpcTimeout(std::string_view value);

// The gRPC status for an HTTP status the proxy answers with (http-grpc-status-mapping.md).
uint32_t HttpToGrpcStatus(uint32_t http_status);

// A "Length-Prefixed-Message" (PROTOCOL-HTTP2.md): a compressed-flag byte (0 here: the proxy
// never advertises grpc-encoding), a 4-byte big-endian length, then the message.
std::string FrameGrpcMessage(std::string_view message);
// The one uncompressed message `body` must hold exactly (a unary response's DATA); an error
// when it is truncated, compressed, or followed by more bytes.
absl::StatusOr<std::string_view> UnframeSingleGrpcMessage(std::string_view body);

}  // namespace weft::http
