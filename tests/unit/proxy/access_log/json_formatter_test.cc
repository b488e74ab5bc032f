#include "proxy/access_log/json_formatter.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/header_map.h"

namespace weft::access_log {
namespace {

TEST(JsonFormatterTest, TypedValuesNullsAndEscaping) {
  http::HeaderMap request;
  request.Add(":method", "POST");
  request.Add("user-agent", "say \"hi\"\n");
  StreamInfo info;
  info.request_headers = &request;
  info.response_code = 503;
  info.bytes_sent = 19;
  info.protocol = "HTTP/2";
  auto formatter = JsonFormatter::Compile({{"method", "%REQ(:METHOD)%"},
                                           {"code", "%RESPONSE_CODE%"},
                                           {"sent", "%BYTES_SENT%"},
                                           {"duration", "%DURATION%"},
                                           {"upstream", "%UPSTREAM_HOST%"},
                                           {"agent", "%REQ(USER-AGENT)%"},
                                           {"summary", "%PROTOCOL% to %UPSTREAM_HOST%"},
                                           {"fixed", "text"}});
  ASSERT_TRUE(formatter.ok()) << formatter.status();
  std::string out;
  formatter->FormatTo(info, out);
  EXPECT_EQ(out,
            "{\"method\":\"POST\",\"code\":503,\"sent\":19,\"duration\":null,\"upstream\":null,"
            "\"agent\":\"say \\\"hi\\\"\\n\",\"summary\":\"HTTP/2 to -\",\"fixed\":\"text\"}\n");
  // And it is valid JSON that round-trips the escaped value.
  auto parsed = nlohmann::json::parse(out);
  EXPECT_EQ(parsed["agent"], "say \"hi\"\n");
  EXPECT_EQ(parsed["code"], 503);
}

TEST(JsonFormatterTest, RefusesBadOperatorNamingTheKey) {
  auto formatter = JsonFormatter::Compile({{"ok", "%PROTOCOL%"}, {"bad", "%NOPE%"}});
  ASSERT_FALSE(formatter.ok());
  EXPECT_NE(std::string(formatter.status().message()).find("bad"), std::string::npos);
}

}  // namespace
}  // namespace weft::access_log
