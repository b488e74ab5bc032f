#include "proxy/server/protocol_inspector.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::proxy {
namespace {

std::string_view Inspect(std::string_view bytes, InspectResult expected) {
  std::string_view protocol;
  EXPECT_EQ(InspectHttpProtocol(bytes, protocol), expected) << bytes;
  return protocol;
}

TEST(ProtocolInspectorTest, RecognisesHttp1RequestLines) {
  EXPECT_EQ(Inspect("GET / HTTP/1.1\r\nHost: a\r\n", InspectResult::kDone), "http/1.1");
  EXPECT_EQ(Inspect("POST /x?y HTTP/1.0\r\n", InspectResult::kDone), "http/1.0");
}

TEST(ProtocolInspectorTest, RecognisesTheHttp2Preface) {
  EXPECT_EQ(Inspect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00", InspectResult::kDone), "h2c");
  Inspect("PRI * HTTP/2.0\r\n", InspectResult::kNeedMoreData);  // could still be the preface
}

TEST(ProtocolInspectorTest, WaitsForALineAndGivesUpOnNonHttp) {
  Inspect("GET / HT", InspectResult::kNeedMoreData);
  EXPECT_EQ(Inspect("hello world\r\n", InspectResult::kDone), "");
  // A TLS ClientHello is refused at its first byte, without waiting for a line end.
  EXPECT_EQ(Inspect(std::string_view("\x16\x03\x01\x02\x00\x01", 6), InspectResult::kDone), "");
  EXPECT_EQ(Inspect(std::string(9000, 'a'), InspectResult::kDone), "");  // no line end in sight
}

}  // namespace
}  // namespace weft::proxy
