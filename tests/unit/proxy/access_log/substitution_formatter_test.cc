#include "proxy/access_log/substitution_formatter.h"

#include <gtest/gtest.h>

#include <memory>

#include "http/header_map.h"

namespace weft::access_log {
namespace {

using std::chrono::milliseconds;

// 2024-01-02T03:04:05.678Z
std::chrono::system_clock::time_point SampleTime() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1704164645)) +
         std::chrono::milliseconds(678);
}

class FormatterTest : public ::testing::Test {
 protected:
  FormatterTest() {
    request_.Add(":method", "GET");
    request_.Add(":path", "/api/v1?x=1");
    request_.Add(":authority", "example.com");
    request_.Add("user-agent", "curl/8.0");
    request_.Add("x-forwarded-for", "10.0.0.9");
    request_.Add("x-request-id", "abc-123");
    response_.Add(":status", "200");
    response_.Add("x-envoy-upstream-service-time", "7");
    trailers_.Add("grpc-status", "0");
    info_.start_time = SampleTime();
    info_.protocol = "HTTP/1.1";
    info_.request_headers = &request_;
    info_.response_headers = &response_;
    info_.response_trailers = &trailers_;
    info_.response_code = 200;
    info_.bytes_received = 12;
    info_.bytes_sent = 345;
    info_.request_complete = milliseconds(42);
    info_.last_downstream_rx_byte_received = milliseconds(3);
    info_.first_upstream_rx_byte_received = milliseconds(20);
    info_.last_downstream_tx_byte_sent = milliseconds(41);
    info_.upstream_host = "10.1.2.3:8080";
    info_.upstream_cluster = "backend";
    info_.upstream_local_address = "10.1.0.1:40000";
    info_.downstream_remote_address = "192.168.1.5:51000";
    info_.downstream_local_address = "[::1]:15001";
    info_.downstream_direct_remote_address = "192.168.1.6:52000";
    info_.route_name = "r1";
    info_.response_code_details = "via_upstream";
    info_.requested_server_name = "sni.example.com";
    info_.request_id = "abc-123";
  }

  std::string Format(std::string_view format) {
    auto formatter = SubstitutionFormatter::Compile(format);
    EXPECT_TRUE(formatter.ok()) << formatter.status();
    if (!formatter.ok()) return "<error>";
    return formatter->Format(info_);
  }

  http::HeaderMap request_, response_, trailers_;
  StreamInfo info_;
};

TEST_F(FormatterTest, DefaultFormatMatchesEnvoysLine) {
  EXPECT_EQ(Format(kDefaultAccessLogFormat),
            "[2024-01-02T03:04:05.678Z] \"GET /api/v1?x=1 HTTP/1.1\" 200 - 12 345 42 7 "
            "\"10.0.0.9\" \"curl/8.0\" \"abc-123\" \"example.com\" \"10.1.2.3:8080\"\n");
}

TEST_F(FormatterTest, DefaultFormatPrefersOriginalPathAndShowsFlags) {
  request_.Add("x-envoy-original-path", "/before/rewrite");
  info_.response_code.reset();
  info_.response_flags = kUpstreamConnectionFailure | kNoHealthyUpstream;
  info_.request_complete.reset();
  info_.upstream_host.clear();
  response_.clear();
  EXPECT_EQ(Format(kDefaultAccessLogFormat),
            "[2024-01-02T03:04:05.678Z] \"GET /before/rewrite HTTP/1.1\" 0 UH,UF 12 345 - - "
            "\"10.0.0.9\" \"curl/8.0\" \"abc-123\" \"example.com\" \"-\"\n");
}

TEST_F(FormatterTest, StartTimeWithCustomFormats) {
  EXPECT_EQ(Format("%START_TIME(%Y/%m/%d)%"), "2024/01/02");
  EXPECT_EQ(Format("%START_TIME(%s)%"), "1704164645");
  EXPECT_EQ(Format("%START_TIME(%H:%M:%E6S)%"), "03:04:05.678000");
  EXPECT_EQ(Format("%START_TIME(%3f)%"), "678");
}

TEST_F(FormatterTest, HeaderOperatorsWithAlternativeAndTruncation) {
  EXPECT_EQ(Format("%REQ(USER-AGENT)%"), "curl/8.0");
  EXPECT_EQ(Format("%REQ(USER-AGENT):4%"), "curl");
  EXPECT_EQ(Format("%REQ(X-MISSING?:AUTHORITY)%"), "example.com");
  EXPECT_EQ(Format("%REQ(X-MISSING)%"), "-");
  EXPECT_EQ(Format("%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"), "7");
  EXPECT_EQ(Format("%TRAILER(GRPC-STATUS)%"), "0");
  EXPECT_EQ(Format("%TRAILER(GRPC-MESSAGE)%"), "-");
}

TEST_F(FormatterTest, EveryScalarOperator) {
  EXPECT_EQ(Format("%PROTOCOL%"), "HTTP/1.1");
  EXPECT_EQ(Format("%RESPONSE_CODE%"), "200");
  EXPECT_EQ(Format("%RESPONSE_CODE_DETAILS%"), "via_upstream");
  EXPECT_EQ(Format("%RESPONSE_FLAGS%"), "-");
  EXPECT_EQ(Format("%BYTES_RECEIVED% %BYTES_SENT%"), "12 345");
  EXPECT_EQ(Format("%DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%"),
            "42 3 20 21");
  EXPECT_EQ(Format("%UPSTREAM_HOST%"), "10.1.2.3:8080");
  EXPECT_EQ(Format("%UPSTREAM_CLUSTER%"), "backend");
  EXPECT_EQ(Format("%UPSTREAM_LOCAL_ADDRESS%"), "10.1.0.1:40000");
  EXPECT_EQ(Format("%UPSTREAM_TRANSPORT_FAILURE_REASON%"), "-");
  EXPECT_EQ(Format("%DOWNSTREAM_REMOTE_ADDRESS%"), "192.168.1.5:51000");
  EXPECT_EQ(Format("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"), "192.168.1.5");
  EXPECT_EQ(Format("%DOWNSTREAM_LOCAL_ADDRESS%"), "[::1]:15001");
  EXPECT_EQ(Format("%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%"), "::1");
  EXPECT_EQ(Format("%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%"), "192.168.1.6:52000");
  EXPECT_EQ(Format("%DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT%"), "192.168.1.6");
  EXPECT_EQ(Format("%REQUESTED_SERVER_NAME%"), "sni.example.com");
  EXPECT_EQ(Format("%ROUTE_NAME%"), "r1");
  EXPECT_EQ(Format("%CONNECTION_TERMINATION_DETAILS%"), "-");
  EXPECT_EQ(Format("%REQUEST_ID%"), "abc-123");
  EXPECT_NE(Format("%HOSTNAME%"), "");
  info_.response_flags = kDownstreamConnectionTermination | kLocalReset;
  EXPECT_EQ(Format("%RESPONSE_FLAGS%"), "LR,DC");
}

TEST_F(FormatterTest, DownstreamTlsOperators) {
  EXPECT_EQ(Format("%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_SUBJECT%"),
            "- - -");  // plaintext
  auto security = std::make_shared<network::SecurityInfo>();
  security->tls_version = "TLSv1.3";
  security->cipher = "TLS_AES_128_GCM_SHA256";
  security->peer_subject = "CN=client,O=acme";
  security->peer_uri_san = "spiffe://cluster.local/ns/default/sa/client";
  security->peer_certificate = true;
  info_.SetDownstreamSecurity(security);
  EXPECT_EQ(Format("%DOWNSTREAM_TLS_VERSION% %DOWNSTREAM_TLS_CIPHER% %DOWNSTREAM_PEER_SUBJECT% "
                   "%DOWNSTREAM_PEER_URI_SAN%"),
            "TLSv1.3 TLS_AES_128_GCM_SHA256 CN=client,O=acme "
            "spiffe://cluster.local/ns/default/sa/client");
  EXPECT_TRUE(info_.downstream_peer_certificate);
  info_.Reset();
  EXPECT_EQ(Format("%DOWNSTREAM_TLS_CIPHER%"), "-");
  EXPECT_FALSE(info_.downstream_peer_certificate);
}

// A stream takes the connection's SecurityInfo by reference, not by copy, and keeps it: the access
// log of a request may be written after its upstream (or downstream) connection is gone.
TEST_F(FormatterTest, SecurityInfoIsSharedAndOutlivesItsConnection) {
  auto downstream = std::make_shared<network::SecurityInfo>();
  downstream->peer_uri_san = "spiffe://cluster.local/ns/default/sa/client";
  downstream->sni = "outbound_.9080_._.reviews.default.svc.cluster.local";
  auto upstream = std::make_shared<network::SecurityInfo>();
  upstream->peer_uri_san = "spiffe://cluster.local/ns/default/sa/reviews";
  info_.requested_server_name = {};
  StreamInfo second;
  info_.SetDownstreamSecurity(downstream);
  second.SetDownstreamSecurity(downstream);
  info_.SetUpstreamSecurity(upstream);
  EXPECT_EQ(info_.downstream_security.get(), second.downstream_security.get());
  EXPECT_EQ(info_.downstream_peer_uri_san.data(), downstream->peer_uri_san.data());  // no copy
  downstream.reset();  // the connections close before the access log is written
  upstream.reset();
  EXPECT_EQ(
      Format("%DOWNSTREAM_PEER_URI_SAN% %UPSTREAM_PEER_URI_SAN% %REQUESTED_SERVER_NAME%"),
      "spiffe://cluster.local/ns/default/sa/client spiffe://cluster.local/ns/default/sa/reviews "
      "outbound_.9080_._.reviews.default.svc.cluster.local");
  info_.Reset();
  EXPECT_EQ(info_.downstream_security, nullptr);
  EXPECT_EQ(info_.upstream_security, nullptr);
  EXPECT_EQ(Format("%DOWNSTREAM_PEER_URI_SAN% %UPSTREAM_PEER_URI_SAN%"), "- -");
  EXPECT_EQ(second.downstream_peer_uri_san, "spiffe://cluster.local/ns/default/sa/client");
}

TEST_F(FormatterTest, LiteralPercentAndOmitEmpty) {
  EXPECT_EQ(Format("100%% done"), "100% done");
  auto formatter = SubstitutionFormatter::Compile("[%REQ(X-NONE)%]", /*omit_empty_values=*/true);
  ASSERT_TRUE(formatter.ok());
  EXPECT_EQ(formatter->Format(info_), "[]");
}

TEST(FormatterCompileTest, RefusesBadFormats) {
  EXPECT_FALSE(SubstitutionFormatter::Compile("%NOT_AN_OPERATOR%").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%REQ%").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%REQ()%").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%PROTOCOL(x)%").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%PROTOCOL").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("abc %").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%REQ(a:b").ok());
  EXPECT_FALSE(SubstitutionFormatter::Compile("%BYTES_SENT:3%").ok());
  EXPECT_TRUE(SubstitutionFormatter::Compile("plain text").ok());
  EXPECT_TRUE(SubstitutionFormatter::Compile("plain text")->IsLiteral());
}

TEST(AddressWithoutPortTest, StripsPorts) {
  EXPECT_EQ(AddressWithoutPort("1.2.3.4:80"), "1.2.3.4");
  EXPECT_EQ(AddressWithoutPort("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(AddressWithoutPort("1.2.3.4"), "1.2.3.4");
  EXPECT_EQ(AddressWithoutPort("2001:db8::1"), "2001:db8::1");
}

}  // namespace
}  // namespace weft::access_log

namespace weft::access_log {
namespace {

TEST(SubstitutionFormatterLocalReplyTest, LocalReplyBodyIsPrinted) {
  auto f = SubstitutionFormatter::Compile("%LOCAL_REPLY_BODY%:%RESPONSE_CODE%");
  ASSERT_TRUE(f.ok()) << f.status();
  StreamInfo info;
  info.response_code = 503;
  info.local_reply_body = "no healthy upstream";
  EXPECT_EQ(f->Format(info), "no healthy upstream:503");
  info.local_reply_body.clear();
  EXPECT_EQ(f->Format(info), "-:503");
}

}  // namespace
}  // namespace weft::access_log
