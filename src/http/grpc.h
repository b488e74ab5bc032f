// The few gRPC-over-HTTP/2 rules a proxy needs (grpc/doc/PROTOCOL-HTTP2.md and
// grpc/doc/http-grpc-status-mapping.md): recognising a gRPC request, reading its grpc-timeout,
// and the gRPC status a local HTTP error becomes.
//
// Stateless; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

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

}  // namespace weft::http
