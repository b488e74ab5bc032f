// The hand-encoded grpc.health.v1 messages. The expected request bytes are what Debian's
// python3-protobuf serialises for a HealthCheckRequest built from the same definition
// (service "a.B" -> b"\n\x03a.B"; 200 bytes -> b"\n\xc8\x01...").
#include "proxy/health/grpc_health_protocol.h"

#include <string>

#include "gtest/gtest.h"
#include "http/grpc.h"

namespace weft::health {
namespace {

using namespace std::string_literals;

std::string Framed(const std::string& message) { return http::FrameGrpcMessage(message); }

TEST(GrpcHealthProtocolTest, EncodesTheRequest) {
  EXPECT_EQ(EncodeHealthCheckRequest(""), "");
  EXPECT_EQ(EncodeHealthCheckRequest("a.B"),
            "\x0a\x03"
            "a.B"s);
  const std::string long_name(200, 's');  // length 200 is a two-byte varint (0xc8 0x01)
  EXPECT_EQ(EncodeHealthCheckRequest(long_name), "\x0a\xc8\x01"s + long_name);
}

TEST(GrpcHealthProtocolTest, FramesMessagesWithAFiveBytePrefix) {
  EXPECT_EQ(Framed(""), "\0\0\0\0\0"s);
  EXPECT_EQ(Framed("\x08\x01"), "\0\0\0\0\x02\x08\x01"s);
  EXPECT_EQ(*http::UnframeSingleGrpcMessage("\0\0\0\0\x02\x08\x01"s), "\x08\x01");
  EXPECT_FALSE(http::UnframeSingleGrpcMessage("\0\0\0"s).ok());
  EXPECT_FALSE(http::UnframeSingleGrpcMessage("\x01\0\0\0\x02\x08\x01"s).ok());  // compressed
  EXPECT_FALSE(http::UnframeSingleGrpcMessage("\0\0\0\0\x03\x08\x01"s).ok());    // truncated
  EXPECT_FALSE(http::UnframeSingleGrpcMessage("\0\0\0\0\x01\x08\x01"s).ok());    // trailing
}

TEST(GrpcHealthProtocolTest, DecodesTheStatusAndSkipsUnknownFields) {
  EXPECT_EQ(*DecodeHealthCheckResponseStatus(""), 0u);  // proto3 default: UNKNOWN
  EXPECT_EQ(*DecodeHealthCheckResponseStatus("\x08\x01"), 1u);
  EXPECT_EQ(*DecodeHealthCheckResponseStatus("\x08\x02"), 2u);
  // Unknown fields of every wire type around it: 2 (varint), 3 (len), 4 (fixed32), 5 (fixed64).
  EXPECT_EQ(*DecodeHealthCheckResponseStatus("\x10\x96\x01\x1a\x02hi\x08\x01\x25\0\0\0\0"
                                             "\x29\0\0\0\0\0\0\0\0"s),
            1u);
  EXPECT_FALSE(DecodeHealthCheckResponseStatus("\x08").ok());
  EXPECT_FALSE(DecodeHealthCheckResponseStatus("\x1a\x05hi").ok());
  EXPECT_FALSE(DecodeHealthCheckResponseStatus("\x0a\x01x").ok());  // status must be a varint
}

TEST(GrpcHealthProtocolTest, PassesOnlyOnHttp200GrpcOkAndServing) {
  const std::string serving = Framed("\x08\x01");
  EXPECT_TRUE(JudgeGrpcHealthResponse(200, 0, serving).ok());
  EXPECT_FALSE(JudgeGrpcHealthResponse(200, 0, Framed("\x08\x02")).ok());  // NOT_SERVING
  EXPECT_FALSE(JudgeGrpcHealthResponse(200, 0, Framed("")).ok());          // UNKNOWN
  EXPECT_FALSE(JudgeGrpcHealthResponse(503, 0, serving).ok());
  EXPECT_FALSE(JudgeGrpcHealthResponse(200, 12, serving).ok());  // UNIMPLEMENTED
  EXPECT_FALSE(JudgeGrpcHealthResponse(200, std::nullopt, serving).ok());
  EXPECT_FALSE(JudgeGrpcHealthResponse(200, 0, "").ok());  // no message
}

}  // namespace
}  // namespace weft::health
