// The HTTP/2 server and client codecs driven against each other over a socketpair, on a real
// dispatcher: what one side encodes, the other decodes — headers, bodies, trailers, flow control,
// resets, GOAWAY and stream limits.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/codec/codec_factory.h"

namespace weft::http {
namespace {

using namespace std::chrono_literals;

// One received message (request on the server, response on the client).
struct Received : public StreamDecoder, public StreamCallbacks {
  void DecodeHeaders(std::unique_ptr<HeaderMap> h, bool end_stream) override {
    headers = std::move(h);
    ended = ended || end_stream;
    if (on_headers) on_headers();
  }
  void DecodeData(network::Buffer& data, bool end_stream) override {
    body += data.view();
    data.Drain(data.length());
    ended = ended || end_stream;
  }
  void DecodeTrailers(std::unique_ptr<HeaderMap> t) override {
    trailers = std::move(t);
    ended = true;
  }
  void OnResetStream(StreamResetReason r, std::string_view) override { reset = r; }
  void OnAboveWriteBufferHighWatermark() override { ++above; }
  void OnBelowWriteBufferLowWatermark() override { ++below; }

  std::unique_ptr<HeaderMap> headers, trailers;
  std::string body;
  bool ended = false;
  std::optional<StreamResetReason> reset;
  int above = 0, below = 0;
  std::function<void()> on_headers;
  StreamEncoder* encoder = nullptr;  // server side: where the response goes
};

// Glue between a socket and a codec, for either side.
struct Wire : public network::ConnectionCallbacks {
  void OnData(network::Buffer& data, bool end_stream) override {
    status = codec->Dispatch(data);
    if (!status.ok()) connection->Close(network::Connection::CloseType::kFlushWrite);
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) return;
    closed = true;
    codec->OnClose(StreamResetReason::kConnectionTermination, "closed");
  }
  void OnAboveWriteHighWatermark() override { codec->OnAboveWriteBufferHighWatermark(); }
  void OnBelowWriteLowWatermark() override { codec->OnBelowWriteBufferLowWatermark(); }
  std::unique_ptr<network::Connection> connection;
  Connection* codec = nullptr;
  absl::Status status;
  bool closed = false;
};

class Http2CodecTest : public ::testing::Test,
                       public ServerConnectionCallbacks,
                       public ClientConnectionCallbacks {
 protected:
  void Start(const Http2Options& server_options = {}, const Http2Options& client_options = {}) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server_.connection = std::make_unique<network::Connection>(dispatcher_, fds[0], 1 << 20);
    client_.connection = std::make_unique<network::Connection>(dispatcher_, fds[1], 1 << 20);
    server_.connection->SetCallbacks(&server_);
    client_.connection->SetCallbacks(&client_);
    server_codec_ =
        CreateHttp2ServerCodec(*server_.connection, *this, CodecLimits{}, server_options);
    client_codec_ = CreateHttp2ClientCodec(*client_.connection, *this, client_options);
    server_.codec = server_codec_.get();
    client_.codec = client_codec_.get();
  }

  void TearDown() override {
    client_codec_.reset();
    server_codec_.reset();
  }

  // ServerConnectionCallbacks: every request gets a recorder.
  StreamDecoder& NewStream(StreamEncoder& encoder) override {
    requests_.push_back(std::make_unique<Received>());
    Received& r = *requests_.back();
    r.encoder = &encoder;
    encoder.SetCallbacks(&r);
    if (on_request_) on_request_(r);
    return r;
  }
  // ClientConnectionCallbacks
  void OnStreamDone(bool reusable) override { ++streams_done_; }
  void OnGoAway() override { goaway_ = true; }
  void OnSettings() override { settings_ = true; }

  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::unique_ptr<event::Timer> poll;
    poll = dispatcher_.CreateTimer([&] {
      if (done() || std::chrono::steady_clock::now() > deadline) {
        dispatcher_.Exit();
        return;
      }
      poll->Enable(1ms);
    });
    poll->Enable(0ms);
    dispatcher_.Run();
    return done();
  }

  // Starts a request; the response lands in the returned recorder.
  Received& Request(HeaderMap headers, bool end_stream) {
    responses_.push_back(std::make_unique<Received>());
    Received& r = *responses_.back();
    StreamEncoder& encoder = client_codec_->NewStream(r);
    encoder.SetCallbacks(&r);
    r.encoder = &encoder;
    encoder.EncodeHeaders(headers, end_stream);
    return r;
  }

  static HeaderMap Get(std::string path = "/") {
    HeaderMap h;
    h.Add(":method", "GET");
    h.Add(":scheme", "http");
    h.Add(":authority", "example.test");
    h.Add(":path", std::move(path));
    return h;
  }
  static void Respond(Received& request, std::string body = "",
                      const HeaderMap* trailers = nullptr) {
    HeaderMap h;
    h.Add(":status", "200");
    bool end = body.empty() && trailers == nullptr;
    request.encoder->EncodeHeaders(h, end);
    if (!body.empty()) {
      network::Buffer b;
      b.Append(body);
      request.encoder->EncodeData(b, trailers == nullptr);
    }
    if (trailers) request.encoder->EncodeTrailers(*trailers);
  }

  event::Dispatcher dispatcher_;
  Wire server_, client_;
  std::unique_ptr<Connection> server_codec_;
  std::unique_ptr<ClientConnection> client_codec_;
  std::vector<std::unique_ptr<Received>> requests_, responses_;
  std::function<void(Received&)> on_request_;
  int streams_done_ = 0;
  bool goaway_ = false;
  bool settings_ = false;
};

TEST(SniffProtocolTest, TellsThePrefaceFromHttp1) {
  EXPECT_EQ(SniffProtocol("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n...."), SniffResult::kHttp2);
  EXPECT_EQ(SniffProtocol("PRI * HT"), SniffResult::kNeedMoreData);
  EXPECT_EQ(SniffProtocol(""), SniffResult::kNeedMoreData);
  EXPECT_EQ(SniffProtocol("GET / HTTP/1.1\r\n"), SniffResult::kHttp1);
  EXPECT_EQ(SniffProtocol("PRIX"), SniffResult::kHttp1);
}

TEST_F(Http2CodecTest, HeadersBodiesAndTrailersBothWays) {
  Start();
  HeaderMap h;
  h.Add(":method", "POST");
  h.Add(":scheme", "http");
  h.Add(":authority", "example.test");
  h.Add(":path", "/echo.Echo/Say");
  h.Add("te", "trailers");
  h.Add("connection", "keep-alive");  // connection-specific: never sent over HTTP/2
  h.Add("transfer-encoding", "chunked");
  h.Add("x-custom", "1");
  Received& response = Request(std::move(h), false);
  network::Buffer body;
  body.Append("hello");
  response.encoder->EncodeData(body, false);
  HeaderMap request_trailers;
  request_trailers.Add("x-checksum", "abc");
  response.encoder->EncodeTrailers(request_trailers);

  ASSERT_TRUE(RunUntil([&] { return !requests_.empty() && requests_[0]->ended; }));
  Received& request = *requests_[0];
  EXPECT_EQ(request.headers->Method(), "POST");
  EXPECT_EQ(request.headers->Path(), "/echo.Echo/Say");
  EXPECT_EQ(request.headers->Authority(), "example.test");
  EXPECT_EQ(request.headers->GetOr("te"), "trailers");
  EXPECT_EQ(request.headers->GetOr("x-custom"), "1");
  EXPECT_FALSE(request.headers->Has("connection"));
  EXPECT_FALSE(request.headers->Has("transfer-encoding"));
  EXPECT_EQ(request.body, "hello");
  ASSERT_TRUE(request.trailers);
  EXPECT_EQ(request.trailers->GetOr("x-checksum"), "abc");

  HeaderMap grpc_trailers;
  grpc_trailers.Add("grpc-status", "14");
  grpc_trailers.Add("grpc-message", "unavailable");
  Respond(request, "world", &grpc_trailers);
  ASSERT_TRUE(RunUntil([&] { return response.ended && streams_done_ == 1; }));
  EXPECT_EQ(response.headers->Status(), "200");
  EXPECT_EQ(response.body, "world");
  ASSERT_TRUE(response.trailers);
  EXPECT_EQ(response.trailers->GetOr("grpc-status"), "14");
  EXPECT_EQ(response.trailers->GetOr("grpc-message"), "unavailable");
  EXPECT_FALSE(response.reset);
  EXPECT_EQ(client_codec_->ActiveStreams(), 0u);
}

TEST_F(Http2CodecTest, Http1StyleRequestGetsSchemeAndAuthorityFromHost) {
  Start();
  HeaderMap h;
  h.Add(":method", "GET");
  h.Add(":path", "/x");
  h.Add("host", "origin.test:8080");
  Request(std::move(h), true);
  ASSERT_TRUE(RunUntil([&] { return !requests_.empty(); }));
  EXPECT_EQ(requests_[0]->headers->Scheme(), "http");
  EXPECT_EQ(requests_[0]->headers->Authority(), "origin.test:8080");
  EXPECT_FALSE(requests_[0]->headers->Has("host"));
}

TEST_F(Http2CodecTest, TrailersOnlyResponseEndsWithTheHeaders) {
  Start();
  Received& response = Request(Get(), true);
  ASSERT_TRUE(RunUntil([&] { return !requests_.empty(); }));
  HeaderMap h;
  h.Add(":status", "200");
  h.Add("content-type", "application/grpc");
  h.Add("grpc-status", "5");
  requests_[0]->encoder->EncodeHeaders(h, true);
  ASSERT_TRUE(RunUntil([&] { return response.ended; }));
  EXPECT_EQ(response.headers->GetOr("grpc-status"), "5");
  EXPECT_FALSE(response.trailers);
}

// A read-disabled stream keeps its bytes unconsumed: the sender's window closes, its encoder's
// buffer passes the watermark, and nothing is lost when reading resumes.
TEST_F(Http2CodecTest, ReadDisabledStreamStopsThePeerAndLosesNoBytes) {
  Http2Options small;
  small.initial_stream_window_size = 65535;
  small.initial_connection_window_size = 65535;
  small.stream_write_buffer_limit = 64 * 1024;
  Start(small, small);
  on_request_ = [](Received& r) { r.encoder->ReadDisable(true); };
  HeaderMap h = Get("/upload");
  h.Set(":method", "POST");
  Received& response = Request(std::move(h), false);
  std::string payload;
  for (int i = 0; payload.size() < 1024 * 1024; ++i) payload += std::to_string(i) + ",";
  network::Buffer b;
  b.Append(payload);
  response.encoder->EncodeData(b, true);
  EXPECT_EQ(response.above, 1);  // far more than the limit is queued
  ASSERT_TRUE(RunUntil([&] { return !requests_.empty(); }));
  RunUntil([] { return false; }, 200ms);
  Received& request = *requests_[0];
  EXPECT_TRUE(request.body.empty());  // nothing delivered while disabled
  EXPECT_EQ(response.below, 0);       // and the sender is still held back

  request.encoder->ReadDisable(false);
  ASSERT_TRUE(RunUntil([&] { return request.ended; }));
  EXPECT_EQ(request.body, payload);
  EXPECT_EQ(response.below, 1);
}

TEST_F(Http2CodecTest, ResetsMapBothWays) {
  Start();
  Received& first = Request(Get("/a"), true);
  Received& second = Request(Get("/b"), true);
  ASSERT_TRUE(RunUntil([&] { return requests_.size() == 2; }));
  requests_[0]->encoder->ResetStream(StreamResetReason::kLocalReset);
  requests_[1]->encoder->ResetStream(StreamResetReason::kRemoteRefusedStreamReset);
  ASSERT_TRUE(RunUntil([&] { return first.reset && second.reset; }));
  EXPECT_EQ(*first.reset, StreamResetReason::kRemoteReset);
  EXPECT_EQ(*second.reset, StreamResetReason::kRemoteRefusedStreamReset);
  EXPECT_TRUE(RunUntil([&] { return streams_done_ == 2; }));

  // The client abandons a request: the server's stream hears a remote reset.
  HeaderMap h = Get("/c");
  h.Set(":method", "POST");
  Received& third = Request(std::move(h), false);
  ASSERT_TRUE(RunUntil([&] { return requests_.size() == 3; }));
  third.encoder->SetCallbacks(nullptr);
  third.encoder->ResetStream(StreamResetReason::kLocalReset);
  ASSERT_TRUE(RunUntil([&] { return requests_[2]->reset.has_value(); }));
  EXPECT_EQ(*requests_[2]->reset, StreamResetReason::kRemoteReset);
  EXPECT_TRUE(client_codec_->WantsMoreStreams());  // a stream reset is not a connection error
}

TEST_F(Http2CodecTest, GoAwayOnDrainLetsStreamsInFlightFinish) {
  Http2Options server;
  server.drain_timeout = 50ms;
  Start(server);
  Received& response = Request(Get(), true);
  ASSERT_TRUE(RunUntil([&] { return !requests_.empty(); }));
  server_codec_->ShutdownNotice();
  ASSERT_TRUE(RunUntil([&] { return goaway_; }));
  EXPECT_FALSE(client_codec_->WantsMoreStreams());
  ASSERT_TRUE(RunUntil([&] { return !server_codec_->WantsMoreStreams(); }));  // final GOAWAY
  Respond(*requests_[0], "late but whole");
  ASSERT_TRUE(RunUntil([&] { return response.ended; }));
  EXPECT_EQ(response.body, "late but whole");
  EXPECT_FALSE(response.reset);
  // No stream left after the final GOAWAY: the server closes the connection.
  EXPECT_TRUE(RunUntil([&] { return client_.closed; }));
}

TEST_F(Http2CodecTest, MaxConcurrentStreamsIsAdvertisedAndRespected) {
  Http2Options server;
  server.max_concurrent_streams = 2;
  Start(server);
  ASSERT_TRUE(RunUntil([&] { return settings_; }));
  EXPECT_EQ(client_codec_->MaxConcurrentStreams(), 2u);
  std::vector<Received*> responses;
  for (int i = 0; i < 5; ++i) responses.push_back(&Request(Get("/" + std::to_string(i)), true));
  RunUntil([] { return false; }, 100ms);
  EXPECT_EQ(requests_.size(), 2u);  // the others wait in the client, not refused
  size_t answered = 0;
  ASSERT_TRUE(RunUntil([&] {
    while (answered < requests_.size()) Respond(*requests_[answered++], "ok");
    return answered == 5 && streams_done_ == 5;
  }));
  for (Received* r : responses) {
    EXPECT_EQ(r->body, "ok");
    EXPECT_FALSE(r->reset);
  }
}

TEST_F(Http2CodecTest, ProtocolErrorIsGoAwayAndAnError) {
  Start();
  // A DATA frame on stream 0 is a connection error (RFC 9113 §6.1).
  std::string bad = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bad += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // SETTINGS
  bad += std::string("\x00\x00\x02\x00\x00\x00\x00\x00\x00xx", 11);
  network::Buffer b;
  b.Append(bad);
  EXPECT_FALSE(server_codec_->Dispatch(b).ok());
  // The client hears the GOAWAY.
  ASSERT_TRUE(RunUntil([&] { return goaway_; }));
}

}  // namespace
}  // namespace weft::http
