// The HTTP/1 serializer: exact bytes for the common shapes, refusal of anything that could inject
// a line, and round trips (parse -> serialize -> parse gives the same message).
#include "http/http1_serializer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "unit/http/http1_test_util.h"

namespace weft::http {
namespace {

using testing::ParsedMessage;
using testing::RecordingVisitor;
using testing::Reserialize;
using testing::SameHeaders;

HeaderMap Map(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HeaderMap h;
  for (const auto& [n, v] : fields) h.Add(n, v);
  return h;
}

TEST(Http1SerializerTest, RequestHeadFromPseudoHeaders) {
  HeaderMap h = Map({{":method", "GET"},
                     {":scheme", "http"},
                     {":authority", "example.com"},
                     {":path", "/a?b=c"},
                     {"accept", "*/*"},
                     {"x-multi", "1"},
                     {"x-multi", "2"}});
  std::string out = "prefix|";
  ASSERT_TRUE(SerializeRequestHead(h, out).ok());
  EXPECT_EQ(out,
            "prefix|GET /a?b=c HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\nx-multi: 1\r\n"
            "x-multi: 2\r\n\r\n");
}

TEST(Http1SerializerTest, HostFieldIsUsedOnlyWithoutAuthority) {
  std::string out;
  ASSERT_TRUE(SerializeRequestHead(Map({{":method", "GET"}, {":path", "/"}, {"host", "h2"}}), out,
                                   {.version_minor = 0})
                  .ok());
  EXPECT_EQ(out, "GET / HTTP/1.0\r\nhost: h2\r\n\r\n");
  out.clear();
  ASSERT_TRUE(
      SerializeRequestHead(
          Map({{":method", "GET"}, {":authority", "a"}, {":path", "/"}, {"host", "b"}}), out)
          .ok());
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nhost: a\r\n\r\n");
}

TEST(Http1SerializerTest, ConnectAndAbsoluteForm) {
  std::string out;
  ASSERT_TRUE(
      SerializeRequestHead(Map({{":method", "CONNECT"}, {":authority", "db:5432"}}), out).ok());
  EXPECT_EQ(out, "CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\n\r\n");
  out.clear();
  ASSERT_TRUE(
      SerializeRequestHead(
          Map({{":method", "GET"}, {":scheme", "https"}, {":authority", "x.io"}, {":path", "/p"}}),
          out, {.absolute_form = true})
          .ok());
  EXPECT_EQ(out, "GET https://x.io/p HTTP/1.1\r\nhost: x.io\r\n\r\n");
}

TEST(Http1SerializerTest, ResponseHead) {
  std::string out;
  ASSERT_TRUE(SerializeResponseHead(Map({{":status", "404"}, {"content-length", "0"}}), out).ok());
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  out.clear();
  ASSERT_TRUE(SerializeResponseHead(Map({{":status", "299"}}), out, 0).ok());
  EXPECT_EQ(out, "HTTP/1.0 299 Unknown\r\n\r\n");
}

TEST(Http1SerializerTest, ChunkEncoding) {
  std::string out;
  AppendChunk("hello", out);
  AppendChunk("", out);  // nothing: an empty chunk would end the body
  AppendChunk(std::string(300, 'x'), out);
  HeaderMap trailers = Map({{"grpc-status", "0"}});
  ASSERT_TRUE(AppendLastChunk(&trailers, out).ok());
  EXPECT_EQ(out,
            "5\r\nhello\r\n12c\r\n" + std::string(300, 'x') + "\r\n0\r\ngrpc-status: 0\r\n\r\n");
  out.clear();
  ASSERT_TRUE(AppendLastChunk(nullptr, out).ok());
  EXPECT_EQ(out, "0\r\n\r\n");
}

TEST(Http1SerializerTest, RefusesInjectionAndLeavesOutputUntouched) {
  const HeaderMap bad[] = {
      Map({{":method", "GET"}, {":path", "/"}, {"x", "a\r\nInjected: 1"}}),
      Map({{":method", "GET"}, {":path", "/"}, {"bad name", "1"}}),
      Map({{":method", "GET"}, {":path", "/"}, {"", "1"}}),
      Map({{":method", "GET"}, {":path", "/ HTTP/1.1\r\nX: y"}}),
      Map({{":method", "GE T"}, {":path", "/"}}),
      Map({{":method", "GET"}, {":path", ""}}),
      Map({{":path", "/"}}),
      Map({{":method", "GET"}, {":path", "/"}, {":authority", "a\r\nb"}}),
      Map({{":method", "GET"}, {":path", "/"}, {":protocol", "websocket"}}),
      Map({{":method", "CONNECT"}}),
  };
  HeaderMap with_nul = Map({{":method", "GET"}, {":path", "/"}});
  with_nul.Add("x", std::string("a\0b", 3));
  std::vector<HeaderMap> all(std::begin(bad), std::end(bad));
  all.push_back(with_nul);
  for (const HeaderMap& h : all) {
    std::string out = "kept";
    EXPECT_FALSE(SerializeRequestHead(h, out).ok()) << h.Path();
    EXPECT_EQ(out, "kept");
  }
  std::string out = "kept";
  EXPECT_FALSE(SerializeResponseHead(Map({{":status", "20"}}), out).ok());
  EXPECT_FALSE(SerializeResponseHead(Map({{":status", "600"}}), out).ok());
  EXPECT_FALSE(SerializeResponseHead(Map({{":status", "200"}, {":path", "/"}}), out).ok());
  EXPECT_FALSE(SerializeResponseHead(Map({{"x", "1"}}), out).ok());
  HeaderMap bad_trailers = Map({{"x", "\n"}});
  EXPECT_FALSE(AppendLastChunk(&bad_trailers, out).ok());
  EXPECT_EQ(out, "kept");
}

TEST(Http1SerializerTest, ReasonPhrases) {
  EXPECT_EQ(ReasonPhrase(200), "OK");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(799), "Unknown");
}

// Parses `wire` whole; returns the visitor.
RecordingVisitor ParseAll(Http1MessageType type, std::string_view wire) {
  RecordingVisitor v;
  Http1Parser parser(type, v);
  parser.Execute(wire);
  parser.OnEof();
  return v;
}

void ExpectRoundTrip(Http1MessageType type, std::string_view wire) {
  SCOPED_TRACE(std::string(wire));
  RecordingVisitor first = ParseAll(type, wire);
  ASSERT_FALSE(first.error) << first.error->reason;
  ASSERT_FALSE(first.messages.empty());
  std::string again;
  for (const ParsedMessage& m : first.messages) ASSERT_TRUE(Reserialize(type, m, again));
  RecordingVisitor second = ParseAll(type, again);
  ASSERT_FALSE(second.error) << second.error->reason << " in " << again;
  ASSERT_EQ(first.messages.size(), second.messages.size());
  for (size_t i = 0; i < first.messages.size(); ++i) {
    const ParsedMessage& a = first.messages[i];
    const ParsedMessage& b = second.messages[i];
    EXPECT_TRUE(SameHeaders(a.headers, b.headers)) << again;
    EXPECT_EQ(a.body, b.body);
    EXPECT_EQ(a.trailers.has_value(), b.trailers.has_value());
    if (a.trailers && b.trailers) {
      EXPECT_TRUE(SameHeaders(*a.trailers, *b.trailers));
    }
    EXPECT_EQ(a.info.framing, b.info.framing);
    EXPECT_EQ(a.info.keep_alive, b.info.keep_alive);
    EXPECT_EQ(a.info.version_minor, b.info.version_minor);
    EXPECT_TRUE(b.complete);
  }
}

TEST(Http1SerializerTest, RequestRoundTrips) {
  ExpectRoundTrip(Http1MessageType::kRequest,
                  "GET /x?y HTTP/1.1\r\nHost: h:80\r\nAccept: */*\r\nCookie: a=b\r\n\r\n");
  ExpectRoundTrip(Http1MessageType::kRequest,
                  "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                  "PUT /q HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "2\r\nab\r\n1\r\nc\r\n0\r\nX-T: 1\r\n\r\n");
  ExpectRoundTrip(Http1MessageType::kRequest, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ExpectRoundTrip(Http1MessageType::kRequest, "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ExpectRoundTrip(Http1MessageType::kRequest, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n");
}

TEST(Http1SerializerTest, ResponseRoundTrips) {
  ExpectRoundTrip(Http1MessageType::kResponse,
                  "HTTP/1.1 200 Whatever\r\nContent-Length: 2\r\nServer: s\r\n\r\nok"
                  "HTTP/1.1 100 Continue\r\n\r\n"
                  "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
  ExpectRoundTrip(Http1MessageType::kResponse, "HTTP/1.0 200 OK\r\n\r\nuntil close");
}

}  // namespace
}  // namespace weft::http
