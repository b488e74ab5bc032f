#include "proxy/health/grpc_health_protocol.h"

#include "absl/strings/str_cat.h"
#include "http/grpc.h"

namespace weft::health {
namespace {

// Protobuf wire format (protobuf.dev/programming-guides/encoding): a key is
// (field_number << 3 | wire_type) as a varint.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads a varint at `at`, advancing it; nullopt when truncated or longer than 10 bytes.
std::optional<uint64_t> ReadVarint(std::string_view in, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in[at++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string EncodeHealthCheckRequest(std::string_view service) {
  std::string out;
  if (service.empty()) return out;  // proto3 leaves a default (empty) string out
  AppendVarint(out, (1u << 3) | kLengthDelimited);
  AppendVarint(out, service.size());
  out.append(service);
  return out;
}

absl::StatusOr<uint32_t> DecodeHealthCheckResponseStatus(std::string_view message) {
  uint32_t status = static_cast<uint32_t>(ServingStatus::kUnknown);
  size_t at = 0;
  while (at < message.size()) {
    std::optional<uint64_t> key = ReadVarint(message, at);
    if (!key) return absl::InvalidArgumentError("truncated field key");
    const uint64_t field = *key >> 3;
    const auto type = static_cast<uint32_t>(*key & 7);
    switch (type) {
      case kVarint: {
        std::optional<uint64_t> v = ReadVarint(message, at);
        if (!v) return absl::InvalidArgumentError("truncated varint");
        if (field == 1) status = static_cast<uint32_t>(*v);  // the last one wins, as in protobuf
        break;
      }
      case kFixed64:
      case kFixed32: {
        const size_t n = type == kFixed64 ? 8 : 4;
        if (message.size() - at < n) return absl::InvalidArgumentError("truncated fixed field");
        at += n;
        break;
      }
      case kLengthDelimited: {
        std::optional<uint64_t> n = ReadVarint(message, at);
        if (!n || message.size() - at < *n) {
          return absl::InvalidArgumentError("truncated length-delimited field");
        }
        at += *n;
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat("unsupported wire type ", type));
    }
    if (field == 1 && type != kVarint) {
      return absl::InvalidArgumentError("status is not a varint");
    }
  }
  return status;
}

absl::Status JudgeGrpcHealthResponse(uint32_t http_status, std::optional<uint32_t> grpc_status,
                                     std::string_view body) {
  if (http_status != 200) return absl::UnavailableError(absl::StrCat("HTTP ", http_status));
  if (!grpc_status) return absl::UnavailableError("no grpc-status");
  if (*grpc_status != http::kGrpcOk) {
    return absl::UnavailableError(absl::StrCat("grpc-status ", *grpc_status));
  }
  absl::StatusOr<std::string_view> message = http::UnframeSingleGrpcMessage(body);
  if (!message.ok()) return message.status();
  absl::StatusOr<uint32_t> status = DecodeHealthCheckResponseStatus(*message);
  if (!status.ok()) return status.status();
  if (*status != static_cast<uint32_t>(ServingStatus::kServing)) {
    return absl::UnavailableError(absl::StrCat("serving status ", *status));
  }
  return absl::OkStatus();
}

}  // namespace weft::health
