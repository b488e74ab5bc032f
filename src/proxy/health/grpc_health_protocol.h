// The gRPC health checking protocol's two messages, encoded by hand (grpc/doc/health-checking.md
// defines them; no generated code for two one-field messages):
//   message HealthCheckRequest  { string service = 1; }
//   message HealthCheckResponse { ServingStatus status = 1; }  // UNKNOWN 0, SERVING 1,
//                                                              // NOT_SERVING 2, SERVICE_UNKNOWN 3
// and the verdict on a Check call's response. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::health {

inline constexpr std::string_view kGrpcHealthCheckPath = "/grpc.health.v1.Health/Check";
enum class ServingStatus : uint32_t { kUnknown = 0, kServing = 1, kNotServing = 2 };

// The HealthCheckRequest message (not framed): empty for the server's overall health.
std::string EncodeHealthCheckRequest(std::string_view service);
// HealthCheckResponse.status (an enum value outside the list above is returned as is); fields
// other than status are skipped, as protobuf requires of unknown fields.
absl::StatusOr<uint32_t> DecodeHealthCheckResponseStatus(std::string_view message);

// A Check call passes when the HTTP status is 200, grpc-status (from the trailers, or the
// headers of a trailers-only response) is 0, and the body is one message saying SERVING.
// The error says why it did not (for the debug log).
absl::Status JudgeGrpcHealthResponse(uint32_t http_status, std::optional<uint32_t> grpc_status,
                                     std::string_view body);

}  // namespace weft::health
