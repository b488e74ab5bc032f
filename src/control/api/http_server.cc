#include "control/api/http_server.h"

#include "http/query_string.h"
#include "network/connection.h"
#include "proxy/codec/codec.h"
#include "proxy/codec/codec_factory.h"

namespace weft::control {

class HttpServer::Connection : public network::ConnectionCallbacks,
                               public http::ServerConnectionCallbacks,
                               public http::StreamDecoder,
                               public http::StreamCallbacks,
                               public HttpExchange {
 public:
  Connection(HttpServer& server, int fd) : server_(server) {
    connection_ = std::make_unique<network::Connection>(server.dispatcher_, fd, 1 << 20);
    connection_->SetCallbacks(this);
    codec_ = http::CreateHttp1ServerCodec(*connection_, *this, http::CodecLimits{});
  }
  ~Connection() override {
    connection_->SetCallbacks(nullptr);
    CloseStream();
  }

  // network::ConnectionCallbacks
  void OnData(network::Buffer& data, bool end_stream) override {
    if (!codec_->Dispatch(data).ok()) {
      connection_->Close(network::Connection::CloseType::kFlushWrite);
      return;
    }
    if (end_stream && !streaming_) connection_->Close(network::Connection::CloseType::kFlushWrite);
  }
  void OnEvent(network::ConnectionEvent event) override {
    if (event == network::ConnectionEvent::kConnected) return;
    CloseStream();
    for (auto it = server_.connections_.begin(); it != server_.connections_.end(); ++it) {
      if (it->get() == this) {
        server_.dispatcher_.DeferredDelete(event::DeferLater(std::move(*it)));
        server_.connections_.erase(it);
        return;
      }
    }
  }

  // http::ServerConnectionCallbacks, StreamDecoder, StreamCallbacks
  http::StreamDecoder& NewStream(http::StreamEncoder& encoder) override {
    encoder_ = &encoder;
    encoder.SetCallbacks(this);
    request_ = HttpRequest{};
    too_large_ = false;
    return *this;
  }
  void DecodeHeaders(std::unique_ptr<http::HeaderMap> headers, bool end_stream) override {
    request_.method = std::string(headers->Method());
    http::PathAndQuery target = http::SplitPathAndQuery(headers->Path());
    request_.path = http::PercentDecode(target.path);
    request_.query = std::move(target.query);
    if (end_stream) Dispatch();
  }
  void DecodeData(network::Buffer& data, bool end_stream) override {
    if (request_.body.size() + data.length() > kMaxRequestBody) too_large_ = true;
    if (!too_large_) request_.body.append(data.view());
    data.Drain(data.length());
    if (end_stream) Dispatch();
  }
  void DecodeTrailers(std::unique_ptr<http::HeaderMap>) override { Dispatch(); }
  void OnResetStream(http::StreamResetReason, std::string_view) override {
    encoder_ = nullptr;
    CloseStream();
  }

  // HttpExchange
  void Respond(uint32_t status, std::string_view content_type, std::string_view body) override {
    if (!encoder_) return;
    http::HeaderMap out;
    out.Add(":status", std::to_string(status));
    out.Add("content-type", std::string(content_type));
    out.Add("content-length", std::to_string(body.size()));
    out.Add("cache-control", "no-cache, private");
    http::StreamEncoder* encoder = encoder_;
    encoder_ = nullptr;
    const bool head = request_.method == "HEAD";
    encoder->EncodeHeaders(out, body.empty() || head);
    if (!body.empty() && !head) {
      network::Buffer buffer;
      buffer.Append(body);
      encoder->EncodeData(buffer, true);
    }
  }
  void StartStream(uint32_t status, std::string_view content_type,
                   std::function<void()> on_close) override {
    if (!encoder_) return;
    http::HeaderMap out;
    out.Add(":status", std::to_string(status));
    out.Add("content-type", std::string(content_type));
    out.Add("cache-control", "no-cache, private");
    // No content-length: the codec frames the body as chunks.
    encoder_->EncodeHeaders(out, false);
    streaming_ = true;
    on_close_ = std::move(on_close);
  }
  void Write(std::string_view chunk) override {
    if (!streaming_ || !encoder_) return;
    if (connection_->PendingWriteBytes() > kMaxStreamBacklog) {
      // The client does not keep up: drop it, as the apiserver drops a slow watcher; it
      // re-watches from the last resourceVersion it saw.
      connection_->Close(network::Connection::CloseType::kNoFlush);
      return;
    }
    network::Buffer buffer;
    buffer.Append(chunk);
    encoder_->EncodeData(buffer, false);
  }
  void EndStream() override {
    if (!streaming_ || !encoder_) return;
    network::Buffer empty;
    http::StreamEncoder* encoder = encoder_;
    encoder_ = nullptr;
    encoder->EncodeData(empty, true);
    CloseStream();
  }

 private:
  void Dispatch() {
    if (too_large_) {
      Respond(413, "application/json",
              R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
              R"("message":"the request body is too large","reason":"RequestEntityTooLarge",)"
              R"("code":413})");
      return;
    }
    server_.handler_(request_, *this);
  }
  void CloseStream() {
    streaming_ = false;
    if (auto on_close = std::move(on_close_)) {
      on_close_ = nullptr;
      on_close();
    }
  }

  HttpServer& server_;
  std::unique_ptr<network::Connection> connection_;
  std::unique_ptr<http::Connection> codec_;
  http::StreamEncoder* encoder_ = nullptr;
  HttpRequest request_;
  bool too_large_ = false;
  bool streaming_ = false;
  std::function<void()> on_close_;
};

HttpServer::HttpServer(event::Dispatcher& dispatcher, HttpHandler handler)
    : dispatcher_(dispatcher), handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  acceptor_.reset();
  connections_.clear();
}

absl::Status HttpServer::Listen(const network::Address& address) {
  ASSIGN_OR_RETURN(int fd, network::BindListenSocket(address, 1024, false));
  address_ = network::LocalAddress(fd);
  acceptor_ = std::make_unique<network::Acceptor>(dispatcher_, fd, [this](int cfd) {
    connections_.push_back(std::make_unique<Connection>(*this, cfd));
  });
  return absl::OkStatus();
}

}  // namespace weft::control
