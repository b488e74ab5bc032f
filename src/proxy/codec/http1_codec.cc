// HTTP/1.1 codecs over Weft's strict parser (http/http1_parser.h): the server side decodes
// requests and encodes responses, the client side the reverse. One stream at a time: a server
// pauses the parser after each request until its response is out, so pipelined requests are
// answered in order.
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "http/http1_parser.h"
#include "http/http1_serializer.h"
#include "proxy/codec/codec_factory.h"

namespace weft::http {

std::string_view ProtocolString(Protocol p) {
  switch (p) {
    case Protocol::kHttp10:
      return "HTTP/1.0";
    case Protocol::kHttp11:
      return "HTTP/1.1";
    case Protocol::kHttp2:
      return "HTTP/2";
  }
  return "";
}

namespace {

bool NoBodyStatus(uint32_t status) { return status < 200 || status == 204 || status == 304; }

uint32_t StatusOf(const HeaderMap& headers) {
  uint32_t code = 0;
  for (char c : headers.Status()) {
    if (c < '0' || c > '9') return 0;
    code = code * 10 + static_cast<uint32_t>(c - '0');
  }
  return code;
}

// Shared by both sides: how the outgoing message's body is framed.
enum class OutFraming { kNone, kContentLength, kChunked, kUntilClose, kRaw };

// Writes body bytes as `framing` says: chunk-encoded, as they are, or (no body) not at all.
// A raw (upgraded) stream's end half-closes the connection.
void WriteBody(network::Connection& connection, OutFraming framing, network::Buffer& data,
               bool end_stream, std::string& scratch) {
  switch (framing) {
    case OutFraming::kChunked:
      scratch.clear();
      if (data.length() > 0) AppendChunk(data.view(), scratch);
      data.Drain(data.length());
      if (end_stream) (void)AppendLastChunk(nullptr, scratch);
      connection.Write(scratch, false);
      break;
    case OutFraming::kNone:
      data.Drain(data.length());  // e.g. the body of a response to HEAD
      break;
    default:
      connection.Write(data, framing == OutFraming::kRaw && end_stream);
      break;
  }
}

// Hands a parsed message's body to a stream decoder: each slice as it arrives (copied once into
// a reused buffer, since the parser's views die with its input), then the end of the message,
// as trailers when there were some, else as an empty end-of-stream data frame.
class BodyRelay {
 public:
  void OnBody(StreamDecoder* decoder, std::string_view data) {
    if (decoder == nullptr || data.empty()) return;
    body_.Append(data);
    decoder->DecodeData(body_, false);
    body_.Clear();
  }
  void OnTrailers(HeaderMap&& trailers) {
    trailers_ = std::make_unique<HeaderMap>(std::move(trailers));
  }
  void OnEnd(StreamDecoder& decoder) {
    if (trailers_) {
      decoder.DecodeTrailers(std::move(trailers_));
      return;
    }
    network::Buffer empty;
    decoder.DecodeData(empty, true);
  }

 private:
  network::Buffer body_;
  std::unique_ptr<HeaderMap> trailers_;
};

// Trailers exist only in chunked framing; elsewhere they are dropped, as RFC 9110 §6.5 allows.
void WriteTrailers(network::Connection& connection, OutFraming framing, const HeaderMap& trailers,
                   std::string& scratch) {
  if (framing != OutFraming::kChunked) return;
  scratch.clear();
  (void)AppendLastChunk(&trailers, scratch);
  connection.Write(scratch, false);
}

// ---------------------------------------------------------------------------------------------
// Server side.

class Http1ServerConnection : public Connection, public StreamEncoder, public Http1Visitor {
 public:
  Http1ServerConnection(network::Connection& connection, ServerConnectionCallbacks& callbacks,
                        const CodecLimits& limits)
      : connection_(connection),
        callbacks_(callbacks),
        parser_(Http1MessageType::kRequest, *this, MakeOptions(limits)) {
    resume_timer_ = connection_.dispatcher().CreateTimer([this] { ResumeParsing(); });
  }

  static Http1ParserOptions MakeOptions(const CodecLimits& limits) {
    Http1ParserOptions o;
    o.max_header_count = limits.max_header_count;
    o.max_header_bytes = limits.max_header_bytes;
    o.max_url_length = limits.max_url_length;
    o.allow_chunked_length = limits.allow_chunked_length;
    return o;
  }

  // Connection
  absl::Status Dispatch(network::Buffer& data) override {
    pending_.Move(data);
    return Parse();
  }
  void OnEof() override {
    eof_ = true;
    if (upgraded_) {
      if (decoder_) {
        network::Buffer empty;
        decoder_->DecodeData(empty, true);
      }
      return;
    }
    if (!stream_active_) parser_.OnEof();
  }
  void ShutdownNotice() override { close_after_response_ = true; }
  bool WantsMoreStreams() const override {
    return !close_after_response_ && !parser_.closed() && !eof_;
  }

  // StreamEncoder (the response)
  void EncodeHeaders(HeaderMap& headers, bool end_stream) override {
    uint32_t status = StatusOf(headers);
    out_.clear();
    HeaderMap& h = headers;
    bool switching = status == 101 && upgrade_request_;
    if (switching) {
      framing_ = OutFraming::kRaw;
    } else if (NoBodyStatus(status) || head_request_) {
      framing_ = OutFraming::kNone;
      if (NoBodyStatus(status)) {
        h.Remove("content-length");
        h.Remove("transfer-encoding");
      }
    } else if (h.Has("content-length")) {
      framing_ = OutFraming::kContentLength;
    } else if (end_stream) {
      framing_ = OutFraming::kNone;
      h.Set("content-length", "0");
    } else if (protocol_ == Protocol::kHttp11) {
      framing_ = OutFraming::kChunked;
      h.Set("transfer-encoding", "chunked");
    } else {
      framing_ = OutFraming::kUntilClose;
      close_after_response_ = true;
    }
    if (!switching) {
      if (!keep_alive_ || close_after_response_) {
        h.Set("connection", "close");
        close_after_response_ = true;
      } else if (protocol_ == Protocol::kHttp10) {
        h.Set("connection", "keep-alive");
      }
    }
    absl::Status st = SerializeResponseHead(h, out_, protocol_ == Protocol::kHttp10 ? 0 : 1);
    if (!st.ok()) {
      WEFT_LOG(debug, "cannot serialize response: {}", st.message());
      ResetStream(StreamResetReason::kLocalReset);
      return;
    }
    response_started_ = true;
    if (switching) {
      upgraded_ = true;
      connection_.Write(out_, false);
      // Bytes the client sent after its upgrade request belong to the new protocol.
      if (pending_.length() > 0 && decoder_) decoder_->DecodeData(pending_, false);
      return;
    }
    if (status == 101 || (status >= 100 && status < 200)) {
      connection_.Write(out_, false);
      return;
    }
    if (upgrade_request_) {
      // The upgrade was refused: HTTP/1 goes on (after this response).
      upgrade_request_ = false;
      parser_.Resume();
    }
    if (end_stream || framing_ == OutFraming::kNone) {
      connection_.Write(out_, false);
      ResponseComplete();
      return;
    }
    connection_.Write(out_, false);
  }

  void EncodeData(network::Buffer& data, bool end_stream) override {
    if (!response_started_) return;
    WriteBody(connection_, framing_, data, end_stream, out_);
    if (end_stream) ResponseComplete();
  }

  void EncodeTrailers(const HeaderMap& trailers) override {
    WriteTrailers(connection_, framing_, trailers, out_);
    ResponseComplete();
  }

  void Encode1xxHeaders(const HeaderMap& headers) override {
    // 100 Continue was already answered by us (see OnHeadersComplete); others pass.
    if (StatusOf(headers) == 100) return;
    out_.clear();
    if (SerializeResponseHead(headers, out_).ok()) connection_.Write(out_, false);
  }

  void SetCallbacks(StreamCallbacks* callbacks) override { stream_callbacks_ = callbacks; }

  void ResetStream(StreamResetReason reason) override {
    // HTTP/1 has no stream reset: the connection goes.
    stream_active_ = false;
    decoder_ = nullptr;
    stream_callbacks_ = nullptr;
    connection_.Close(network::Connection::CloseType::kNoFlush);
  }

  void ReadDisable(bool disable) override { connection_.ReadDisable(disable); }
  Protocol protocol() const override { return protocol_; }

  // Http1Visitor
  void OnHeadersComplete(HeaderMap&& headers, const Http1MessageInfo& info) override {
    protocol_ = info.version_minor == 0 ? Protocol::kHttp10 : Protocol::kHttp11;
    keep_alive_ = info.keep_alive;
    head_request_ = headers.Method() == "HEAD";
    upgrade_request_ = info.upgrade || info.connect;
    response_started_ = false;
    response_complete_ = false;
    request_complete_ = false;
    stream_active_ = true;
    if (info.expect_continue) {
      // Like Envoy without proxy_100_continue: answer 100 here and do not forward the Expect.
      headers.Remove("expect");
      connection_.Write("HTTP/1.1 100 Continue\r\n\r\n", false);
    }
    has_body_ = info.framing != BodyFraming::kNone;
    decoder_ = &callbacks_.NewStream(*this);
    auto h = std::make_unique<HeaderMap>(std::move(headers));
    bool end_stream = !has_body_ && !upgrade_request_;
    if (end_stream) request_complete_ = true;
    decoder_->DecodeHeaders(std::move(h), end_stream);
  }

  void OnBody(std::string_view data) override { body_.OnBody(decoder_, data); }

  void OnTrailers(HeaderMap&& trailers) override { body_.OnTrailers(std::move(trailers)); }

  void OnMessageComplete() override {
    if (decoder_ && has_body_ && !request_complete_) {
      request_complete_ = true;
      body_.OnEnd(*decoder_);
    }
    request_complete_ = true;
    // One request at a time: the next pipelined one waits for this response.
    if (stream_active_) parser_.Pause();
  }

  void OnError(const Http1ParseError& error) override {
    error_ = error;
    if (stream_active_ && response_started_) return;
    // Answer the malformed request ourselves and close (Envoy does the same).
    HeaderMap h;
    h.Add(":status", std::to_string(error.status_code));
    std::string body(error.reason);
    h.Add("content-length", std::to_string(body.size()));
    h.Add("content-type", "text/plain");
    h.Add("connection", "close");
    out_.clear();
    if (SerializeResponseHead(h, out_, 1).ok()) {
      out_ += body;
      connection_.Write(out_, false);
    }
    if (stream_active_ && stream_callbacks_) {
      StreamCallbacks* cb = stream_callbacks_;
      stream_callbacks_ = nullptr;
      stream_active_ = false;
      decoder_ = nullptr;
      cb->OnResetStream(StreamResetReason::kProtocolError, error.reason);
    } else if (!stream_active_) {
      callbacks_.OnProtocolError(static_cast<uint32_t>(error.status_code), error.reason);
    }
  }

 private:
  absl::Status Parse() {
    if (upgraded_) {
      if (decoder_ && pending_.length() > 0) decoder_->DecodeData(pending_, false);
      return absl::OkStatus();
    }
    if (stream_active_ && parser_.paused()) return absl::OkStatus();  // pipelined: wait
    size_t consumed = parser_.Execute(pending_.view());
    pending_.Drain(consumed);
    if (parser_.failed()) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP/1 ", error_.status_code, ": ", std::string(error_.reason)));
    }
    return absl::OkStatus();
  }

  void ResponseComplete() {
    if (response_complete_) return;
    response_complete_ = true;
    if (!request_complete_) {
      // Answered before the request body ended: the rest of the body cannot be told apart from
      // a next request, so the connection ends (Envoy does the same).
      close_after_response_ = true;
    }
    stream_active_ = false;
    decoder_ = nullptr;
    stream_callbacks_ = nullptr;
    if (close_after_response_) {
      connection_.Close(network::Connection::CloseType::kFlushWrite);
      return;
    }
    // Parse whatever was pipelined behind this request, after the current call stack unwinds.
    if (parser_.paused()) parser_.Resume();
    if (pending_.length() > 0) resume_timer_->Enable(std::chrono::milliseconds(0));
  }

  void ResumeParsing() {
    if (stream_active_ || !connection_.IsOpen()) return;
    absl::Status st = Parse();
    if (!st.ok()) connection_.Close(network::Connection::CloseType::kFlushWrite);
  }

  network::Connection& connection_;
  ServerConnectionCallbacks& callbacks_;
  Http1Parser parser_;
  StreamDecoder* decoder_ = nullptr;
  StreamCallbacks* stream_callbacks_ = nullptr;
  network::Buffer pending_;
  BodyRelay body_;
  std::unique_ptr<event::Timer> resume_timer_;
  std::string out_;
  Http1ParseError error_;
  Protocol protocol_ = Protocol::kHttp11;
  OutFraming framing_ = OutFraming::kNone;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool upgrade_request_ = false;
  bool upgraded_ = false;
  bool has_body_ = false;
  bool stream_active_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool close_after_response_ = false;
  bool eof_ = false;
};

// ---------------------------------------------------------------------------------------------
// Client side.

class Http1ClientConnection : public ClientConnection, public StreamEncoder, public Http1Visitor {
 public:
  Http1ClientConnection(network::Connection& connection, ClientConnectionCallbacks& callbacks)
      : connection_(connection),
        callbacks_(callbacks),
        parser_(Http1MessageType::kResponse, *this) {}

  // Connection
  absl::Status Dispatch(network::Buffer& data) override {
    if (upgraded_) {
      if (decoder_) decoder_->DecodeData(data, false);
      return absl::OkStatus();
    }
    size_t consumed = parser_.Execute(data.view());
    data.Drain(consumed);
    if (parser_.upgraded() && upgraded_ && decoder_ && data.length() > 0) {
      decoder_->DecodeData(data, false);
    }
    if (parser_.failed()) {
      Reset(StreamResetReason::kProtocolError, parse_error_);
      return absl::InvalidArgumentError(parse_error_);
    }
    return absl::OkStatus();
  }
  void OnEof() override {
    if (upgraded_) {
      if (decoder_) {
        network::Buffer empty;
        StreamDecoder* d = decoder_;
        decoder_ = nullptr;
        d->DecodeData(empty, true);
      }
      return;
    }
    parser_.OnEof();
  }
  void OnClose(StreamResetReason reason, std::string_view details) override {
    if (decoder_) Reset(reason, details);
  }
  bool WantsMoreStreams() const override { return keep_alive_ && !parser_.closed() && !upgraded_; }
  void OnAboveWriteBufferHighWatermark() override {
    if (stream_callbacks_) stream_callbacks_->OnAboveWriteBufferHighWatermark();
  }
  void OnBelowWriteBufferLowWatermark() override {
    if (stream_callbacks_) stream_callbacks_->OnBelowWriteBufferLowWatermark();
  }

  // ClientConnection
  StreamEncoder& NewStream(StreamDecoder& response_decoder) override {
    decoder_ = &response_decoder;
    request_complete_ = false;
    response_complete_ = false;
    keep_alive_ = true;
    return *this;
  }
  size_t ActiveStreams() const override { return decoder_ ? 1 : 0; }

  // StreamEncoder (the request)
  void EncodeHeaders(HeaderMap& headers, bool end_stream) override {
    out_.clear();
    HeaderMap& h = headers;
    std::string_view method = h.Method();
    upgrade_ = h.Has("upgrade");
    if (upgrade_) h.Set("connection", "upgrade");
    if (h.Has("content-length")) {
      framing_ = OutFraming::kContentLength;
    } else if (end_stream) {
      framing_ = OutFraming::kNone;
      // RFC 9110 §8.6: a request with a body-bearing method and no body says so.
      if (method == "POST" || method == "PUT" || method == "PATCH") h.Set("content-length", "0");
    } else if (upgrade_) {
      framing_ = OutFraming::kRaw;
    } else {
      framing_ = OutFraming::kChunked;
      h.Set("transfer-encoding", "chunked");
    }
    parser_.PushRequestMethod(method);
    absl::Status st = SerializeRequestHead(h, out_);
    if (!st.ok()) {
      Reset(StreamResetReason::kLocalReset, std::string(st.message()));
      return;
    }
    if (end_stream) request_complete_ = true;
    connection_.Write(out_, false);
  }
  void EncodeData(network::Buffer& data, bool end_stream) override {
    WriteBody(connection_, framing_, data, end_stream, out_);
    if (end_stream) {
      request_complete_ = true;
      MaybeDone();
    }
  }
  void EncodeTrailers(const HeaderMap& trailers) override {
    WriteTrailers(connection_, framing_, trailers, out_);
    request_complete_ = true;
    MaybeDone();
  }
  void SetCallbacks(StreamCallbacks* callbacks) override { stream_callbacks_ = callbacks; }
  void ResetStream(StreamResetReason reason) override {
    decoder_ = nullptr;
    stream_callbacks_ = nullptr;
    keep_alive_ = false;
    // The connection cannot be reused with a half-done exchange on it.
    connection_.Close(network::Connection::CloseType::kNoFlush);
  }
  void ReadDisable(bool disable) override { connection_.ReadDisable(disable); }
  Protocol protocol() const override { return Protocol::kHttp11; }

  // Http1Visitor (the response)
  void OnHeadersComplete(HeaderMap&& headers, const Http1MessageInfo& info) override {
    if (!decoder_) return;
    keep_alive_ = info.keep_alive;
    uint32_t status = static_cast<uint32_t>(info.status_code);
    auto h = std::make_unique<HeaderMap>(std::move(headers));
    if (status >= 100 && status < 200 && status != 101) {
      decoder_->Decode1xxHeaders(std::move(h));
      return;
    }
    if (status == 101 && upgrade_) {
      upgraded_ = true;
      decoder_->DecodeHeaders(std::move(h), false);
      return;
    }
    has_body_ = info.framing != BodyFraming::kNone;
    bool end_stream = !has_body_;
    if (end_stream) response_complete_ = true;
    StreamDecoder* d = decoder_;
    d->DecodeHeaders(std::move(h), end_stream);
  }
  void OnBody(std::string_view data) override { body_.OnBody(decoder_, data); }
  void OnTrailers(HeaderMap&& trailers) override { body_.OnTrailers(std::move(trailers)); }
  void OnMessageComplete() override {
    if (!decoder_ || upgraded_) return;
    if (has_body_ && !response_complete_) {
      response_complete_ = true;
      body_.OnEnd(*decoder_);
    }
    response_complete_ = true;
    MaybeDone();
  }
  void OnError(const Http1ParseError& error) override { parse_error_ = std::string(error.reason); }

 private:
  void MaybeDone() {
    if (!response_complete_ || !decoder_) return;
    bool reusable = request_complete_ && keep_alive_;
    decoder_ = nullptr;
    stream_callbacks_ = nullptr;
    callbacks_.OnStreamDone(reusable);
  }
  void Reset(StreamResetReason reason, std::string_view details) {
    StreamCallbacks* cb = stream_callbacks_;
    decoder_ = nullptr;
    stream_callbacks_ = nullptr;
    keep_alive_ = false;
    if (cb) cb->OnResetStream(reason, details);
  }

  network::Connection& connection_;
  ClientConnectionCallbacks& callbacks_;
  Http1Parser parser_;
  StreamDecoder* decoder_ = nullptr;
  StreamCallbacks* stream_callbacks_ = nullptr;
  BodyRelay body_;
  std::string out_;
  std::string parse_error_;
  OutFraming framing_ = OutFraming::kNone;
  bool keep_alive_ = true;
  bool has_body_ = false;
  bool upgrade_ = false;
  bool upgraded_ = false;
  bool request_complete_ = false;
  bool response_complete_ = false;
};

}  // namespace

std::unique_ptr<Connection> CreateHttp1ServerCodec(network::Connection& connection,
                                                   ServerConnectionCallbacks& callbacks,
                                                   const CodecLimits& limits) {
  return std::make_unique<Http1ServerConnection>(connection, callbacks, limits);
}

std::unique_ptr<ClientConnection> CreateHttp1ClientCodec(network::Connection& connection,
                                                         ClientConnectionCallbacks& callbacks) {
  return std::make_unique<Http1ClientConnection>(connection, callbacks);
}

}  // namespace weft::http
