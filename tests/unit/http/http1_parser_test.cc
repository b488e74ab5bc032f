// Behaviour of the HTTP/1 parser. Every test runs with the input fed whole, one byte at a time and
// in 3-byte slices: the result must not depend on how the bytes arrived.
#include "http/http1_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "unit/http/http1_test_util.h"

namespace weft::http {
namespace {

using testing::FeedInSteps;
using ::testing::HasSubstr;
using testing::ParsedMessage;
using testing::RecordingVisitor;

std::vector<std::pair<std::string, std::string>> Fields(const HeaderMap& h) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : h) out.emplace_back(f.name, f.value);
  return out;
}
using FieldList = std::vector<std::pair<std::string, std::string>>;

class Http1ParserTest : public ::testing::TestWithParam<size_t> {
 protected:
  size_t Parse(Http1MessageType type, std::string_view data,
               const Http1ParserOptions& options = {}) {
    visitor_ = RecordingVisitor();
    parser_ = std::make_unique<Http1Parser>(type, visitor_, options);
    return Feed(data);
  }
  size_t Request(std::string_view data, const Http1ParserOptions& options = {}) {
    return Parse(Http1MessageType::kRequest, data, options);
  }
  size_t Response(std::string_view data, const Http1ParserOptions& options = {}) {
    return Parse(Http1MessageType::kResponse, data, options);
  }
  size_t Feed(std::string_view data) { return FeedInSteps(*parser_, data, GetParam()); }

  void TearDown() override { EXPECT_EQ(visitor_.order_violation, ""); }

  const ParsedMessage& Only() {
    EXPECT_EQ(visitor_.messages.size(), 1u);
    return visitor_.messages.at(0);
  }

  RecordingVisitor visitor_;
  std::unique_ptr<Http1Parser> parser_;
};

// ---------------------------------------------------------------------------------------------
// Requests: start line forms and the HeaderMap they produce.

TEST_P(Http1ParserTest, SimpleGetBecomesPseudoHeadersThenLowerCaseFields) {
  std::string in =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88\r\n"
      "Accept: */*\r\n\r\n";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(Fields(m.headers), (FieldList{{":method", "GET"},
                                          {":scheme", "http"},
                                          {":authority", "example.com"},
                                          {":path", "/index.html?q=1"},
                                          {"user-agent", "curl/7.88"},
                                          {"accept", "*/*"}}));
  EXPECT_EQ(m.info.version_minor, 1);
  EXPECT_EQ(m.info.framing, BodyFraming::kNone);
  EXPECT_TRUE(m.info.keep_alive);
  EXPECT_FALSE(m.info.upgrade);
  EXPECT_FALSE(m.info.connect);
  EXPECT_TRUE(parser_->idle());
}

TEST_P(Http1ParserTest, ValuesAreTrimmedOfOptionalWhitespace) {
  std::string in = "GET / HTTP/1.1\r\nHost:\t h \r\nX-A:   spaced  value\t\r\nX-Empty:\r\n\r\n";
  Request(in);
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(m.headers.Authority(), "h");
  EXPECT_EQ(m.headers.GetOr("x-a"), "spaced  value");
  ASSERT_TRUE(m.headers.Has("x-empty"));
  EXPECT_EQ(m.headers.GetOr("x-empty", "unset"), "");
}

TEST_P(Http1ParserTest, AbsoluteFormTakesAuthorityFromTheTarget) {
  std::string in = "GET HTTPS://api.example.com:8443/v1/x?y=2 HTTP/1.1\r\nHost: ignored\r\n\r\n";
  Request(in);
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(Fields(m.headers), (FieldList{{":method", "GET"},
                                          {":scheme", "https"},
                                          {":authority", "api.example.com:8443"},
                                          {":path", "/v1/x?y=2"}}));
}

TEST_P(Http1ParserTest, AbsoluteFormWithEmptyPath) {
  Request("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().headers.Path(), "/");
  Request("GET http://a.example?x HTTP/1.1\r\nHost: a.example\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().headers.Path(), "/?x");
  Request("OPTIONS http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().headers.Path(), "*");
}

TEST_P(Http1ParserTest, AsteriskFormForOptions) {
  Request("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().headers.Path(), "*");
  EXPECT_EQ(Only().headers.Method(), "OPTIONS");
}

TEST_P(Http1ParserTest, ConnectPausesAndLeavesTunnelBytesToTheCaller) {
  std::string head = "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n";
  std::string in = head + "\x01\x02raw";
  EXPECT_EQ(Request(in), head.size());
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(Fields(m.headers),
            (FieldList{{":method", "CONNECT"}, {":authority", "db.internal:5432"}}));
  EXPECT_TRUE(m.info.connect);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(parser_->paused());
  EXPECT_EQ(parser_->Execute("more"), 0u);
}

TEST_P(Http1ParserTest, UpgradePausesAndResumeContinuesHttp) {
  std::string head =
      "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  std::string next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(Request(head + next), head.size());
  ASSERT_EQ(visitor_.messages.size(), 1u);
  EXPECT_TRUE(visitor_.messages[0].info.upgrade);
  EXPECT_EQ(visitor_.messages[0].headers.GetOr("upgrade"), "websocket");
  EXPECT_TRUE(parser_->paused());
  // The upstream refused the upgrade: the connection stays HTTP/1.
  parser_->Resume();
  EXPECT_EQ(Feed(next), next.size());
  ASSERT_EQ(visitor_.messages.size(), 2u);
  EXPECT_EQ(visitor_.messages[1].headers.Path(), "/next");
}

TEST_P(Http1ParserTest, UpgradeNeedsConnectionUpgradeAndHttp11) {
  Request("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_FALSE(Only().info.upgrade);
  Request("GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  EXPECT_FALSE(Only().info.upgrade);
}

TEST_P(Http1ParserTest, ExpectContinueIsReported) {
  std::string in =
      "PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error);
  EXPECT_TRUE(Only().info.expect_continue);
  EXPECT_EQ(Only().body, "abc");
  Request("PUT /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(Only().info.expect_continue);  // RFC 9110 §10.1.1: ignored in HTTP/1.0
}

TEST_P(Http1ParserTest, LeadingEmptyLinesAreIgnored) {
  std::string in = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error);
  EXPECT_TRUE(Only().complete);
}

// ---------------------------------------------------------------------------------------------
// Framing.

TEST_P(Http1ParserTest, ContentLengthBody) {
  std::string in = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(m.info.framing, BodyFraming::kContentLength);
  EXPECT_EQ(m.info.content_length, 11u);
  EXPECT_EQ(m.body, "hello world");
  EXPECT_TRUE(m.complete);
  EXPECT_EQ(m.headers.GetOr("content-length"), "11");
}

TEST_P(Http1ParserTest, RepeatedIdenticalContentLengthsCollapseToOne) {
  Request("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nabcde");
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(m.body, "abcde");
  EXPECT_EQ(m.headers.GetJoined("content-length"), "5");
}

TEST_P(Http1ParserTest, ChunkedBodyWithExtensionsAndTrailers) {
  std::string in =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "6 ; ext\r\n world\r\n"
      "A\r\n0123456789\r\n"
      "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error) << visitor_.error->reason;
  const ParsedMessage& m = Only();
  EXPECT_EQ(m.info.framing, BodyFraming::kChunked);
  EXPECT_EQ(m.body, "hello world0123456789");
  ASSERT_TRUE(m.trailers);
  EXPECT_EQ(Fields(*m.trailers), (FieldList{{"x-checksum", "abc"}, {"x-other", "1"}}));
  EXPECT_TRUE(m.complete);
}

TEST_P(Http1ParserTest, ChunkedWithoutTrailers) {
  Request("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().body, "abc");
  EXPECT_FALSE(Only().trailers);
  EXPECT_TRUE(Only().complete);
}

TEST_P(Http1ParserTest, ChunkedAfterOtherCodingsIsAccepted) {
  Request(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
      "\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.framing, BodyFraming::kChunked);
  EXPECT_EQ(Only().body, "\x1f\x8b");
  EXPECT_EQ(Only().headers.GetJoined("transfer-encoding"), "gzip,chunked");
}

TEST_P(Http1ParserTest, AllowChunkedLengthLetsChunkedWinAndDropsContentLength) {
  Http1ParserOptions options;
  options.allow_chunked_length = true;
  Request(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\nx\r\n0\r\n\r\n",
      options);
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.framing, BodyFraming::kChunked);
  EXPECT_EQ(Only().body, "x");
  EXPECT_FALSE(Only().headers.Has("content-length"));
}

TEST_P(Http1ParserTest, ThreePipelinedRequestsInOneFeed) {
  std::string in =
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
      "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
  EXPECT_EQ(Request(in), in.size());
  ASSERT_FALSE(visitor_.error);
  ASSERT_EQ(visitor_.messages.size(), 3u);
  EXPECT_EQ(visitor_.messages[0].headers.Path(), "/1");
  EXPECT_EQ(visitor_.messages[0].body, "");
  EXPECT_EQ(visitor_.messages[1].headers.Path(), "/2");
  EXPECT_EQ(visitor_.messages[1].body, "body");
  EXPECT_EQ(visitor_.messages[2].headers.Path(), "/3");
  EXPECT_EQ(visitor_.messages[2].body, "ok");
  for (const auto& m : visitor_.messages) EXPECT_TRUE(m.complete);
  EXPECT_TRUE(parser_->idle());
}

// A server answering pipelined requests one at a time pauses after each message.
class PausingVisitor : public RecordingVisitor {
 public:
  void OnMessageComplete() override {
    RecordingVisitor::OnMessageComplete();
    parser->Pause();
  }
  Http1Parser* parser = nullptr;
};

TEST_P(Http1ParserTest, PauseFromOnMessageCompleteStopsAfterThatMessage) {
  std::string first = "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab";
  std::string second = "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  PausingVisitor visitor;
  Http1Parser parser(Http1MessageType::kRequest, visitor);
  visitor.parser = &parser;
  std::string in = first + second;
  EXPECT_EQ(FeedInSteps(parser, in, GetParam()), first.size());
  EXPECT_TRUE(parser.paused());
  EXPECT_EQ(visitor.messages.size(), 1u);
  parser.Resume();
  EXPECT_EQ(FeedInSteps(parser, std::string_view(in).substr(first.size()), GetParam()),
            second.size());
  ASSERT_EQ(visitor.messages.size(), 2u);
  EXPECT_EQ(visitor.messages[1].headers.Path(), "/2");
  EXPECT_EQ(visitor.order_violation, "");
}

TEST_P(Http1ParserTest, KeepAliveRules) {
  Request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(Only().info.keep_alive);
  Request("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n");
  EXPECT_FALSE(Only().info.keep_alive);
  Request("GET / HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(Only().info.keep_alive);
  EXPECT_FALSE(Only().headers.Has(":authority"));  // HTTP/1.0 without Host
  Request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(Only().info.keep_alive);
}

TEST_P(Http1ParserTest, BytesAfterTheLastMessageOfAClosingConnectionAreDiscarded) {
  std::string in =
      "GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(Request(in), in.size());
  EXPECT_EQ(visitor_.messages.size(), 1u);
  EXPECT_TRUE(parser_->closed());
}

TEST_P(Http1ParserTest, HttpMinorVersionAboveOneIsTreatedAsHttp11) {
  Request("GET / HTTP/1.7\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.version_minor, 1);
}

TEST_P(Http1ParserTest, EofInsideARequestIsAnError) {
  Request("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
  parser_->OnEof();
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 400);
  Request("GET / HTTP/1.1\r\nHo");
  parser_->OnEof();
  ASSERT_TRUE(visitor_.error);
  Request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  parser_->OnEof();
  EXPECT_FALSE(visitor_.error);
}

// ---------------------------------------------------------------------------------------------
// Rejections: each one with the status to answer and why.

struct Rejection {
  std::string name;
  std::string input;
  int status;
  std::string reason;  // substring of the reported reason
};

std::vector<Rejection> RequestRejections() {
  const std::string get = "GET / HTTP/1.1\r\nHost: h\r\n";
  const std::string post = "POST / HTTP/1.1\r\nHost: h\r\n";
  return {
      {"cl_and_te", post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "both Content-Length and Transfer-Encoding"},
      {"te_and_cl", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400,
       "both Content-Length and Transfer-Encoding"},
      {"differing_cl_fields", post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
       "differing Content-Length"},
      {"differing_cl_list", post + "Content-Length: 3, 4\r\n\r\n", 400, "differing Content-Length"},
      {"cl_not_numeric", post + "Content-Length: abc\r\n\r\n", 400, "invalid Content-Length"},
      {"cl_negative", post + "Content-Length: -1\r\n\r\n", 400, "invalid Content-Length"},
      {"cl_plus", post + "Content-Length: +1\r\n\r\n", 400, "invalid Content-Length"},
      {"cl_empty", post + "Content-Length: \r\n\r\n", 400, "invalid Content-Length"},
      {"cl_empty_element", post + "Content-Length: 1,,1\r\n\r\n", 400, "invalid Content-Length"},
      {"cl_inner_space", post + "Content-Length: 1 2\r\n\r\n", 400, "invalid Content-Length"},
      {"cl_overflow", post + "Content-Length: 99999999999999999999\r\n\r\n", 400,
       "invalid Content-Length"},
      {"cl_above_int64", post + "Content-Length: 9223372036854775808\r\n\r\n", 400,
       "invalid Content-Length"},
      {"te_not_chunked", post + "Transfer-Encoding: gzip\r\n\r\n", 400, "must end in chunked"},
      {"te_chunked_then_gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
       "must end in chunked"},
      {"te_chunked_twice",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "must end in chunked"},
      {"te_empty", post + "Transfer-Encoding: \r\n\r\n", 400, "must end in chunked"},
      {"te_invalid_token", post + "Transfer-Encoding: \"chunked\"\r\n\r\n", 400,
       "invalid Transfer-Encoding"},
      {"te_unknown_coding", post + "Transfer-Encoding: foo, chunked\r\n\r\n", 501,
       "unsupported transfer coding"},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0"},
      {"name_invalid_char", get + "X(a): 1\r\n\r\n", 400, "invalid character in header name"},
      {"name_non_ascii", get + "X-\xc3\xa9: 1\r\n\r\n", 400, "invalid character in header name"},
      {"space_before_colon", get + "X-A : 1\r\n\r\n", 400, "whitespace between header name"},
      {"tab_before_colon", get + "X-A\t: 1\r\n\r\n", 400, "whitespace between header name"},
      {"empty_name", get + ": 1\r\n\r\n", 400, "empty header name"},
      {"no_colon", get + "X-A 1\r\n\r\n", 400, "without a colon"},
      {"value_nul", get + std::string("X-A: a\0b\r\n\r\n", 12), 400,
       "invalid character in header value"},
      {"value_ctl",
       get + "X-A: a\x01"
             "b\r\n\r\n",
       400, "invalid character in header value"},
      {"value_del", get + "X-A: a\x7f\r\n\r\n", 400, "invalid character in header value"},
      {"value_bare_cr", get + "X-A: a\rb\r\n\r\n", 400, "invalid character in header value"},
      {"obs_fold", get + "X-A: a\r\n  continued\r\n\r\n", 400, "line folding"},
      {"obs_fold_tab", get + "X-A: a\r\n\tcontinued\r\n\r\n", 400, "line folding"},
      {"bare_lf_request_line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF"},
      {"bare_lf_field", "GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "bare LF"},
      {"bare_lf_end", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF"},
      {"bare_cr_request_line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400, "invalid HTTP version"},
      {"invalid_method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid method"},
      {"empty_method", " / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "invalid method"},
      {"double_space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty request-target"},
      {"no_version", "GET /\r\nHost: h\r\n\r\n", 400, "malformed request line"},
      {"lowercase_version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400, "invalid HTTP version"},
      {"bad_version", "GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400, "invalid HTTP version"},
      {"trailing_space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "invalid HTTP version"},
      {"http2_version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "not supported"},
      {"http09_version", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "not supported"},
      {"missing_host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, "missing Host"},
      {"two_hosts", get + "Host: h\r\n\r\n", 400, "multiple Host"},
      {"host_userinfo", "GET / HTTP/1.1\r\nHost: user@h\r\n\r\n", 400, "invalid Host"},
      {"host_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host"},
      {"missing_host_absolute", "GET http://h/ HTTP/1.1\r\n\r\n", 400, "missing Host"},
      {"target_quote", "GET /a\"b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_angle", "GET /<script> HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_bad_percent", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_short_percent", "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_non_ascii", "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_relative", "GET index.html HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"target_no_slashes", "GET http:foo HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request-target"},
      {"absolute_empty_authority", "GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n", 400,
       "request-target"},
      {"asterisk_not_options", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "only for OPTIONS"},
      {"connect_no_port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400,
       "authority-form"},
      {"connect_path", "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "authority-form"},
      {"chunk_size_invalid", post + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
       "invalid chunk size"},
      {"chunk_size_empty", post + "Transfer-Encoding: chunked\r\n\r\n\r\n", 400,
       "invalid chunk size"},
      {"chunk_size_overflow", post + "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400,
       "chunk size overflow"},
      {"chunk_size_above_int64", post + "Transfer-Encoding: chunked\r\n\r\n8000000000000000\r\n",
       400, "chunk size overflow"},
      {"chunk_space_without_ext", post + "Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n", 400,
       "invalid chunk size"},
      {"chunk_bare_lf", post + "Transfer-Encoding: chunked\r\n\r\n1\nx\r\n", 400,
       "not ended by CRLF"},
      {"chunk_ext_ctl", post + "Transfer-Encoding: chunked\r\n\r\n1;a\x01\r\nx\r\n", 400,
       "chunk extension"},
      {"chunk_data_too_long", post + "Transfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n", 400,
       "not followed by CRLF"},
      {"trailer_content_length",
       post + "Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", 400, "trailers"},
      {"trailer_bad_name", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nA B: 1\r\n\r\n", 400,
       "header name"},
      {"trailer_bare_lf", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\n\r\n", 400,
       "bare LF"},
  };
}

TEST_P(Http1ParserTest, RequestRejections) {
  for (const Rejection& r : RequestRejections()) {
    SCOPED_TRACE(r.name);
    Request(r.input);
    ASSERT_TRUE(visitor_.error) << "accepted";
    EXPECT_EQ(visitor_.error->status_code, r.status);
    EXPECT_THAT(std::string(visitor_.error->reason), HasSubstr(r.reason));
    EXPECT_TRUE(parser_->failed());
    EXPECT_EQ(parser_->Execute("GET / HTTP/1.1\r\n"), 0u);  // a failed parser stays failed
  }
}

TEST_P(Http1ParserTest, HeaderCountLimit) {
  Http1ParserOptions options;
  options.max_header_count = 3;
  Request("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", options);
  EXPECT_FALSE(visitor_.error);
  Request("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 431);
  EXPECT_THAT(std::string(visitor_.error->reason), HasSubstr("too many header fields"));
}

TEST_P(Http1ParserTest, HeaderBytesLimitCountsCompleteAndPartialHeads) {
  Http1ParserOptions options;
  options.max_header_bytes = 64;
  std::string ok = "GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(20, 'a') + "\r\n\r\n";
  ASSERT_LE(ok.size(), 64u);
  Request(ok, options);
  EXPECT_FALSE(visitor_.error);
  Request("GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(60, 'a') + "\r\n\r\n", options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 431);
  // A header line that never ends is refused once it passes the limit, not buffered forever.
  size_t consumed = Request("GET / HTTP/1.1\r\nHost: h\r\nA: " + std::string(1000, 'a'), options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 431);
  EXPECT_LT(consumed, 200u);
}

TEST_P(Http1ParserTest, TrailerLimits) {
  Http1ParserOptions options;
  options.max_header_count = 2;
  Request(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 2\r\n"
      "C: 3\r\n\r\n",
      options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 431);
}

TEST_P(Http1ParserTest, UrlLengthLimit) {
  Http1ParserOptions options;
  options.max_url_length = 32;
  Request("GET /" + std::string(31, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", options);
  EXPECT_FALSE(visitor_.error);
  Request("GET /" + std::string(32, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 414);
  // Still arriving: refused before the line ends.
  Request("GET /" + std::string(500, 'a'), options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 414);
}

TEST_P(Http1ParserTest, ChunkLineLengthLimit) {
  Http1ParserOptions options;
  options.max_chunk_line_length = 16;
  Request(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;abcdefghij\r\nx\r\n"
      "0\r\n\r\n",
      options);
  EXPECT_FALSE(visitor_.error);
  Request("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;abcdefghijklmnop\r\n",
          options);
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 400);
  EXPECT_THAT(std::string(visitor_.error->reason), HasSubstr("chunk size line too long"));
}

// ---------------------------------------------------------------------------------------------
// Responses.

TEST_P(Http1ParserTest, ResponseWithContentLength) {
  std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
  EXPECT_EQ(Response(in), in.size());
  ASSERT_FALSE(visitor_.error);
  const ParsedMessage& m = Only();
  EXPECT_EQ(
      Fields(m.headers),
      (FieldList{{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "2"}}));
  EXPECT_EQ(m.info.status_code, 200);
  EXPECT_EQ(m.body, "hi");
  EXPECT_TRUE(m.info.keep_alive);
}

TEST_P(Http1ParserTest, ResponseStatusLineWithoutReason) {
  Response("HTTP/1.1 204\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.status_code, 204);
  Response("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.status_code, 404);
}

TEST_P(Http1ParserTest, ChunkedResponseWithTrailers) {
  Response(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n"
      "grpc-status: 0\r\n\r\n");
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().body, "wxyz");
  ASSERT_TRUE(Only().trailers);
  EXPECT_EQ(Only().trailers->GetOr("grpc-status"), "0");
}

TEST_P(Http1ParserTest, CloseDelimitedResponseEndsAtEof) {
  Response("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this ");
  Feed("until close");
  ASSERT_FALSE(visitor_.error);
  EXPECT_FALSE(Only().complete);
  EXPECT_EQ(Only().info.framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(Only().info.keep_alive);
  parser_->OnEof();
  EXPECT_TRUE(Only().complete);
  EXPECT_EQ(Only().body, "all of this until close");
}

TEST_P(Http1ParserTest, ResponseWithTransferCodingNotEndingInChunkedIsCloseDelimited) {
  Response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz");
  parser_->OnEof();
  ASSERT_FALSE(visitor_.error);
  EXPECT_EQ(Only().info.framing, BodyFraming::kUntilClose);
  EXPECT_EQ(Only().body, "zz");
}

TEST_P(Http1ParserTest, HeadResponseHasNoBodyDespiteContentLength) {
  parser_ = nullptr;
  visitor_ = RecordingVisitor();
  parser_ = std::make_unique<Http1Parser>(Http1MessageType::kResponse, visitor_);
  parser_->PushRequestMethod("HEAD");
  parser_->PushRequestMethod("GET");
  std::string in =
      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  EXPECT_EQ(Feed(in), in.size());
  ASSERT_FALSE(visitor_.error);
  ASSERT_EQ(visitor_.messages.size(), 2u);
  EXPECT_EQ(visitor_.messages[0].info.framing, BodyFraming::kNone);
  EXPECT_EQ(visitor_.messages[0].body, "");
  EXPECT_EQ(visitor_.messages[0].headers.GetOr("content-length"), "1234");
  EXPECT_TRUE(visitor_.messages[0].complete);
  EXPECT_EQ(visitor_.messages[1].body, "abc");
}

TEST_P(Http1ParserTest, NoBodyFor204And304) {
  std::string in =
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz";
  EXPECT_EQ(Response(in), in.size());
  ASSERT_FALSE(visitor_.error);
  ASSERT_EQ(visitor_.messages.size(), 3u);
  EXPECT_EQ(visitor_.messages[0].body, "");
  EXPECT_EQ(visitor_.messages[1].body, "");
  EXPECT_EQ(visitor_.messages[2].body, "z");
}

TEST_P(Http1ParserTest, ContinueThenFinalResponse) {
  std::string in =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(Response(in), in.size());
  ASSERT_FALSE(visitor_.error);
  ASSERT_EQ(visitor_.messages.size(), 3u);
  EXPECT_EQ(visitor_.messages[0].info.status_code, 100);
  EXPECT_TRUE(visitor_.messages[0].complete);
  EXPECT_EQ(visitor_.messages[1].info.status_code, 103);
  EXPECT_EQ(visitor_.messages[2].info.status_code, 201);
  EXPECT_EQ(visitor_.messages[2].body, "ok");
}

TEST_P(Http1ParserTest, SwitchingProtocolsHandsTheRestToTheCaller) {
  std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  std::string in = head + "\x81\x05hello";
  EXPECT_EQ(Response(in), head.size());
  ASSERT_FALSE(visitor_.error);
  EXPECT_TRUE(Only().info.upgrade);
  EXPECT_TRUE(Only().complete);
  EXPECT_TRUE(parser_->upgraded());
}

TEST_P(Http1ParserTest, SuccessfulConnectResponseOpensATunnel) {
  visitor_ = RecordingVisitor();
  parser_ = std::make_unique<Http1Parser>(Http1MessageType::kResponse, visitor_);
  parser_->PushRequestMethod("CONNECT");
  std::string head = "HTTP/1.1 200 Connection Established\r\n\r\n";
  EXPECT_EQ(Feed(head + "tunnel"), head.size());
  ASSERT_FALSE(visitor_.error);
  EXPECT_TRUE(Only().info.connect);
  EXPECT_TRUE(parser_->upgraded());
}

TEST_P(Http1ParserTest, Http10ResponseClosesByDefault) {
  std::string in = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.0 200 OK\r\n\r\n";
  EXPECT_EQ(Response(in), in.size());
  ASSERT_EQ(visitor_.messages.size(), 1u);
  EXPECT_FALSE(Only().info.keep_alive);
  EXPECT_TRUE(parser_->closed());
}

TEST_P(Http1ParserTest, ResponseErrorsAreReportedAs502) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       "both Content-Length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "differing"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "final transfer coding"},
      {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"},
      {"HTTP/1.1 99 Odd\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 600 Odd\r\n\r\n", "invalid status code"},
      {"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1  200 OK\r\n\r\n", "malformed status line"},
      {"HTTP/2 200 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", "reason phrase"},
      {"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare LF"},
      {"HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "whitespace between header name"},
  };
  for (const auto& [input, reason] : cases) {
    SCOPED_TRACE(input);
    Response(input);
    ASSERT_TRUE(visitor_.error) << "accepted";
    EXPECT_EQ(visitor_.error->status_code, 502);
    EXPECT_THAT(std::string(visitor_.error->reason), HasSubstr(reason));
  }
}

TEST_P(Http1ParserTest, ResponseCutShortIsAnError) {
  Response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  parser_->OnEof();
  ASSERT_TRUE(visitor_.error);
  EXPECT_EQ(visitor_.error->status_code, 502);
}

INSTANTIATE_TEST_SUITE_P(Splits, Http1ParserTest, ::testing::Values(0u, 1u, 3u),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0   ? std::string("Whole")
                                  : info.param == 1 ? std::string("ByteByByte")
                                                    : "Slices" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace weft::http
