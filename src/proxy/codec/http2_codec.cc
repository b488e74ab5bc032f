// HTTP/2 codecs over libnghttp2's session API (Debian's libnghttp2 1.52). nghttp2 owns the
// protocol state machine (frames, HPACK, stream states, SETTINGS, flow-control arithmetic,
// flood protection); this file adapts it to Weft's codec interfaces:
//
// - Bytes in: Dispatch() feeds nghttp2_session_mem_recv(); its callbacks build each stream's
//   HeaderMap and body and hand them to the stream's decoder at frame boundaries.
// - Bytes out: SendPending() drains nghttp2_session_mem_send() into the network::Connection,
//   never from inside an nghttp2 callback, and stops while the socket is above its high
//   watermark (resumed by the connection's low-watermark event).
// - Inbound flow control: automatic WINDOW_UPDATE is off; a stream's bytes are "consumed"
//   (nghttp2_session_consume) only when handed to its decoder, so a read-disabled stream keeps
//   its bytes here and the peer's window closes instead of our memory growing.
// - Outbound flow control: each stream holds the bytes its encoder was given until the peer's
//   window takes them; above Http2Options::stream_write_buffer_limit the stream's callbacks hear
//   OnAboveWriteBufferHighWatermark (and OnBelow... at half), which stops the other side.
//
// Not thread-safe: one codec per connection, on that connection's dispatcher.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/thread_free_list.h"
#include "proxy/codec/codec_factory.h"
#include "proxy/codec/nghttp2_memory_pool.h"

namespace weft::http {

namespace {

constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Fields that describe one hop's connection: never sent in HTTP/2 (RFC 9113 §8.2.2), except
// "te: trailers", which gRPC needs end to end.
bool IsConnectionSpecific(const HeaderField& f) {
  const std::string& n = f.name;
  if (n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
      n == "transfer-encoding" || n == "upgrade") {
    return true;
  }
  if (n == "te") return !absl::EqualsIgnoreCase(absl::string_view(f.value), "trailers");
  return false;
}

nghttp2_nv MakeNv(const std::string& name, const std::string& value) {
  // nghttp2 copies names and values when a frame is submitted (no NO_COPY flags): header maps
  // may die before the frame is serialized (the socket may be backed up).
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// A request's header block: pseudo-headers first (RFC 9113 §8.3), :scheme defaulted and
// :authority taken from Host when the request came from HTTP/1 without them, connection-specific
// fields dropped.
void BuildRequestNv(const HeaderMap& headers, std::vector<nghttp2_nv>& nva) {
  nva.clear();
  const std::string* method = headers.Get(":method");
  const std::string* scheme = headers.Get(":scheme");
  const std::string* authority = headers.Get(":authority");
  const std::string* path = headers.Get(":path");
  const std::string* host = headers.Get("host");
  static const std::string kMethod = ":method", kScheme = ":scheme", kAuthority = ":authority",
                           kPath = ":path", kHttp = "http";
  if (method) nva.push_back(MakeNv(kMethod, *method));
  bool connect = method && *method == "CONNECT";
  if (!connect) nva.push_back(MakeNv(kScheme, scheme && !scheme->empty() ? *scheme : kHttp));
  if (authority && !authority->empty()) {
    nva.push_back(MakeNv(kAuthority, *authority));
  } else if (host) {
    nva.push_back(MakeNv(kAuthority, *host));
  }
  if (path && !connect) nva.push_back(MakeNv(kPath, *path));
  for (const HeaderField& f : headers) {
    if (f.name.empty() || f.name[0] == ':' || f.name == "host" || IsConnectionSpecific(f)) continue;
    nva.push_back(MakeNv(f.name, f.value));
  }
}

// A response (":status" first) or a trailer block (no pseudo-headers at all).
void BuildResponseNv(const HeaderMap& headers, bool trailers, std::vector<nghttp2_nv>& nva) {
  nva.clear();
  static const std::string kStatus = ":status";
  if (!trailers) {
    if (const std::string* status = headers.Get(":status")) nva.push_back(MakeNv(kStatus, *status));
  }
  for (const HeaderField& f : headers) {
    if (f.name.empty() || f.name[0] == ':' || IsConnectionSpecific(f)) continue;
    nva.push_back(MakeNv(f.name, f.value));
  }
}

uint32_t ResetCode(StreamResetReason reason, bool server) {
  switch (reason) {
    case StreamResetReason::kRemoteRefusedStreamReset:
    case StreamResetReason::kOverflow:
      return NGHTTP2_REFUSED_STREAM;
    case StreamResetReason::kProtocolError:
      return NGHTTP2_PROTOCOL_ERROR;
    default:
      // A client abandons a request with CANCEL (RFC 9113 §7); a server that cannot finish a
      // response says INTERNAL_ERROR.
      return server ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_CANCEL;
  }
}

class Http2Codec;

// One HTTP/2 stream: its encoder side (what we send) and its decoder side (what we receive).
class Http2Stream : public ThreadFreeList<Http2Stream>,
                    public event::DeferredDeletable,
                    public StreamEncoder {
 public:
  Http2Stream(Http2Codec& codec, StreamDecoder* decoder) : codec_(codec), decoder_(decoder) {}

  // StreamEncoder
  void EncodeHeaders(HeaderMap& headers, bool end_stream) override;
  void EncodeData(network::Buffer& data, bool end_stream) override;
  void EncodeTrailers(const HeaderMap& trailers) override;
  void Encode1xxHeaders(const HeaderMap& headers) override;
  void SetCallbacks(StreamCallbacks* callbacks) override { callbacks_ = callbacks; }
  void ResetStream(StreamResetReason reason) override;
  void ReadDisable(bool disable) override;
  Protocol protocol() const override { return Protocol::kHttp2; }

  // Hands received body/trailers/end to the decoder unless read-disabled.
  void Deliver();
  bool HasUndelivered() const {
    return recv_data_.length() > 0 || recv_trailers_ || (remote_end_ && !remote_end_delivered_);
  }
  // The decoder / callbacks will never be called again (stream finished or reset).
  void Detach() {
    decoder_ = nullptr;
    callbacks_ = nullptr;
  }
  // nghttp2's data source: copies queued bytes into a DATA frame.
  ssize_t ReadBody(uint8_t* buf, size_t length, uint32_t* data_flags);
  void AfterLocalEnd();
  void AfterResponseComplete();

  Http2Codec& codec_;
  StreamDecoder* decoder_;
  StreamCallbacks* callbacks_ = nullptr;
  int32_t id_ = -1;
  size_t slot_ = 0;  // where the codec's streams_ holds this stream

  // Receiving.
  std::unique_ptr<HeaderMap> recv_headers_;  // the header block being received
  size_t recv_header_bytes_ = 0;
  bool headers_decoded_ = false;  // the final (non-1xx) headers went to the decoder
  network::Buffer recv_data_;     // received, not yet handed to the decoder
  std::unique_ptr<HeaderMap> recv_trailers_;
  bool remote_end_ = false;
  bool remote_end_delivered_ = false;
  int read_disabled_ = 0;

  // Sending.
  network::Buffer send_data_;
  std::unique_ptr<HeaderMap> send_trailers_;
  bool local_end_ = false;  // the encoder has given everything (end_stream or trailers)
  bool headers_sent_ = false;
  bool data_deferred_ = false;  // the data source said "nothing yet": resume on new data
  bool above_watermark_ = false;

  bool reset_locally_ = false;
  bool closed_ = false;   // nghttp2 closed the stream
  bool removed_ = false;  // out of the codec's list, deleted at the end of the loop turn
};

// The parts shared by the server and the client codecs: the nghttp2 session and its callbacks.
class Http2Codec {
 public:
  Http2Codec(network::Connection& connection, bool server, const Http2Options& options,
             const CodecLimits& limits)
      : connection_(connection), server_(server), options_(options), limits_(limits) {
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Http2Codec::OnBeginHeadersCb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &Http2Codec::OnHeaderCb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Http2Codec::OnFrameRecvCb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Http2Codec::OnDataChunkCb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Http2Codec::OnStreamCloseCb);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &Http2Codec::OnFrameSendCb);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, &Http2Codec::OnInvalidFrameCb);
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    // Window updates follow what the decoders actually took (see the top of this file).
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (server) {
      nghttp2_session_server_new3(&session_, cb, this, opt, memory_pool_.mem());
    } else {
      nghttp2_session_client_new3(&session_, cb, this, opt, memory_pool_.mem());
    }
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);

    std::vector<nghttp2_settings_entry> settings = {
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, options_.hpack_table_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.initial_stream_window_size},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(limits_.max_header_bytes)},
    };
    if (server) {
      settings.push_back(
          {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams});
    } else {
      settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
    }
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
    // The connection window is not a SETTING: it grows by a WINDOW_UPDATE on stream 0.
    nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0,
        static_cast<int32_t>(options_.initial_connection_window_size));
    deliver_timer_ = connection_.dispatcher().CreateTimer([this] { DeliverScheduled(); });
  }

  virtual ~Http2Codec() {
    destroying_ = true;
    nghttp2_session_del(session_);
  }

  absl::Status DoDispatch(network::Buffer& data) {
    in_nghttp2_ = true;
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data.data()),
                                          data.length());
    in_nghttp2_ = false;
    if (rv < 0) {
      // Fatal for the session (bad preface, flood, ...): say why in a GOAWAY, then close.
      protocol_error_ = nghttp2_strerror(static_cast<int>(rv));
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      data.Drain(data.length());
      SendPending();
      return absl::InvalidArgumentError(absl::StrCat("HTTP/2: ", protocol_error_));
    }
    data.Drain(static_cast<size_t>(rv));
    SendPending();
    if (!protocol_error_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("HTTP/2: ", protocol_error_));
    }
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      // Both sides said GOAWAY and no stream is left: nothing more can happen here.
      connection_.Close(network::Connection::CloseType::kFlushWrite);
    }
    return absl::OkStatus();
  }

  // Writes whatever nghttp2 has queued, unless we are inside one of its callbacks (it must not
  // be re-entered) or the socket is backed up.
  void SendPending() {
    if (in_nghttp2_) {
      send_wanted_ = true;
      return;
    }
    do {
      send_wanted_ = false;
      while (connection_.IsOpen() && !connection_.AboveHighWatermark()) {
        const uint8_t* bytes = nullptr;
        in_nghttp2_ = true;
        ssize_t n = nghttp2_session_mem_send(session_, &bytes);
        in_nghttp2_ = false;
        if (n < 0) {
          WEFT_LOG(debug, "HTTP/2 send failed: {}", nghttp2_strerror(static_cast<int>(n)));
          connection_.Close(network::Connection::CloseType::kNoFlush);
          return;
        }
        if (n == 0) break;
        connection_.Write(
            std::string_view(reinterpret_cast<const char*>(bytes), static_cast<size_t>(n)), false);
      }
      // Streams whose queued bytes drained below half the limit hear about it now, outside
      // nghttp2 (their callbacks may submit more data).
      RunLowWatermarkCallbacks();
    } while (send_wanted_ && connection_.IsOpen() && !connection_.AboveHighWatermark());
    if (connection_.IsOpen()) AfterSend();
  }

  void ScheduleDeliver(Http2Stream& stream) {
    if (std::find(deliver_.begin(), deliver_.end(), &stream) != deliver_.end()) return;
    deliver_.push_back(&stream);
    if (!deliver_timer_->Enabled()) deliver_timer_->Enable(std::chrono::milliseconds(0));
  }

  Http2Stream* FindStream(int32_t id) {
    return static_cast<Http2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
  }

  // Bytes handed to a decoder (or dropped for a detached stream) may be acknowledged.
  void Consume(int32_t id, size_t n) {
    if (n == 0) return;
    nghttp2_session_consume(session_, id, n);
  }

  // Removes a stream the session closed; its memory goes at the end of the event-loop turn
  // (a decoder may still be on the stack with a reference to it).
  void Remove(Http2Stream& stream) {
    if (stream.removed_) return;
    stream.removed_ = true;
    std::erase(deliver_, &stream);
    // Swap-remove: the last stream takes the slot.
    const size_t slot = stream.slot_;
    connection_.dispatcher().DeferredDelete(std::move(streams_[slot]));
    if (slot + 1 != streams_.size()) {
      streams_[slot] = std::move(streams_.back());
      streams_[slot]->slot_ = slot;
    }
    streams_.pop_back();
  }

  Http2Stream& AddStream(StreamDecoder* decoder) {
    streams_.push_back(std::make_unique<Http2Stream>(*this, decoder));
    Http2Stream& s = *streams_.back();
    s.slot_ = streams_.size() - 1;
    return s;
  }

  // Connection-level closing: every stream still attached learns it was cut short.
  void ResetAllStreams(StreamResetReason reason, std::string_view details) {
    std::vector<Http2Stream*> open;
    for (auto& s : streams_) open.push_back(s.get());
    for (Http2Stream* s : open) {
      StreamCallbacks* cb = s->callbacks_;
      s->Detach();
      if (cb) cb->OnResetStream(reason, details);
    }
  }

  void NoteLowWatermark(Http2Stream& stream) { low_watermark_.push_back(&stream); }

  // Server and client differ here.
  virtual void OnRequestHeadersBegin(int32_t id) {}
  virtual StreamDecoder* OnRequestHeadersComplete(Http2Stream& stream, HeaderMap& headers) {
    return nullptr;
  }
  virtual void OnStreamClosed(Http2Stream& stream) {}
  virtual void OnGoAwayReceived() {}
  virtual void OnSettingsReceived() {}
  // Everything nghttp2 had to send is in the connection (or the socket is backed up).
  virtual void AfterSend() {}

  network::Connection& connection_;
  const bool server_;
  const Http2Options options_;
  const CodecLimits limits_;
  // What nghttp2 allocates per stream comes from here (freed after the session: see ~Http2Codec).
  Nghttp2MemoryPool memory_pool_;
  nghttp2_session* session_ = nullptr;
  // Unordered, each stream knowing its slot: adding and removing a stream is O(1) and, once the
  // vector has grown to the connection's concurrency, allocates nothing (a list allocated a node
  // per stream).
  std::vector<std::unique_ptr<Http2Stream>> streams_;
  std::vector<nghttp2_nv> nva_;  // reused for every header block we send
  std::unique_ptr<event::Timer> deliver_timer_;
  std::vector<Http2Stream*> deliver_;  // streams read-enabled again, with bytes waiting
  std::vector<Http2Stream*> low_watermark_;
  std::string protocol_error_;  // set when we sent GOAWAY with an error: the session is over
  bool in_nghttp2_ = false;
  bool send_wanted_ = false;
  bool destroying_ = false;

 private:
  void RunLowWatermarkCallbacks() {
    if (low_watermark_.empty()) return;
    std::vector<Http2Stream*> streams;
    streams.swap(low_watermark_);
    for (Http2Stream* s : streams) {
      if (s->callbacks_) s->callbacks_->OnBelowWriteBufferLowWatermark();
    }
  }

  void DeliverScheduled() {
    std::vector<Http2Stream*> streams;
    streams.swap(deliver_);
    // Removed streams are only deleted at the end of the loop turn, so every pointer here is
    // still valid; one an earlier delivery removed says so.
    for (Http2Stream* s : streams) {
      if (!s->removed_) s->Deliver();
    }
    SendPending();  // the WINDOW_UPDATEs the deliveries earned
  }

  static Http2Codec& Self(void* user_data) { return *static_cast<Http2Codec*>(user_data); }

  static int OnBeginHeadersCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Codec& self = Self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    int32_t id = frame->hd.stream_id;
    if (self.server_ && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      self.OnRequestHeadersBegin(id);
    }
    Http2Stream* s = self.FindStream(id);
    if (s == nullptr) return 0;
    s->recv_headers_ = std::make_unique<HeaderMap>();
    s->recv_header_bytes_ = 0;
    return 0;
  }

  static int OnHeaderCb(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                        size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                        void* user_data) {
    Http2Codec& self = Self(user_data);
    Http2Stream* s = self.FindStream(frame->hd.stream_id);
    if (s == nullptr || !s->recv_headers_) return 0;
    // RFC 7541 §4.1's accounting (name + value + 32), against the same limits HTTP/1 has.
    s->recv_header_bytes_ += namelen + valuelen + 32;
    if (s->recv_headers_->size() >= self.limits_.max_header_count ||
        s->recv_header_bytes_ > self.limits_.max_header_bytes) {
      // Resets just this stream (nghttp2 sends RST_STREAM INTERNAL_ERROR).
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    s->recv_headers_->Add(std::string(reinterpret_cast<const char*>(name), namelen),
                          std::string(reinterpret_cast<const char*>(value), valuelen));
    return 0;
  }

  static int OnDataChunkCb(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user_data) {
    Http2Codec& self = Self(user_data);
    Http2Stream* s = self.FindStream(stream_id);
    if (s == nullptr || s->decoder_ == nullptr) {
      self.Consume(stream_id, len);  // nobody wants it: give the window back
      return 0;
    }
    s->recv_data_.Append(std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int OnFrameRecvCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Codec& self = Self(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_DATA: {
        Http2Stream* s = self.FindStream(frame->hd.stream_id);
        if (s == nullptr) return 0;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->remote_end_ = true;
        s->Deliver();
        return 0;
      }
      case NGHTTP2_HEADERS:
        self.OnHeadersFrame(*frame);
        return 0;
      case NGHTTP2_GOAWAY:
        self.OnGoAwayReceived();
        return 0;
      case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) self.OnSettingsReceived();
        return 0;
      default:
        return 0;
    }
  }

  void OnHeadersFrame(const nghttp2_frame& frame) {
    Http2Stream* s = FindStream(frame.hd.stream_id);
    if (s == nullptr || !s->recv_headers_) return;
    bool end_stream = frame.hd.flags & NGHTTP2_FLAG_END_STREAM;
    std::unique_ptr<HeaderMap> headers = std::move(s->recv_headers_);
    if (end_stream) s->remote_end_ = true;
    if (s->headers_decoded_) {
      // A second header block ends the stream: trailers (RFC 9113 §8.1).
      s->recv_trailers_ = std::move(headers);
      s->Deliver();
      return;
    }
    if (server_) {
      s->decoder_ = OnRequestHeadersComplete(*s, *headers);
      if (s->decoder_ == nullptr) return;
    }
    if (s->decoder_ == nullptr) return;
    std::string_view status = headers->Status();
    if (!server_ && status.size() == 3 && status[0] == '1') {
      // Interim response (100 Continue, 103 Early Hints): the final one follows.
      s->decoder_->Decode1xxHeaders(std::move(headers));
      return;
    }
    s->headers_decoded_ = true;
    if (end_stream) s->remote_end_delivered_ = true;
    StreamDecoder* decoder = s->decoder_;
    if (end_stream && !server_) s->Detach();  // the response is complete
    decoder->DecodeHeaders(std::move(headers), end_stream);
    if (end_stream && !server_) s->AfterResponseComplete();
  }

 public:
  static int OnStreamCloseCb(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                             void* user_data) {
    Http2Codec& self = Self(user_data);
    if (self.destroying_) return 0;
    Http2Stream* s = self.FindStream(stream_id);
    if (s == nullptr) return 0;
    s->closed_ = true;
    if (error_code == NGHTTP2_NO_ERROR && s->remote_end_ && s->decoder_ != nullptr &&
        s->HasUndelivered()) {
      // Complete both ways, but its last bytes wait for a read-disabled decoder: the stream
      // ends when Deliver() hands them over.
      return 0;
    }
    self.FinishClosed(*s, error_code);
    return 0;
  }

  void FinishClosed(Http2Stream& stream, uint32_t error_code) {
    Http2Stream* s = &stream;
    Http2Codec& self = *this;
    StreamCallbacks* cb = s->callbacks_;
    bool had_decoder = s->decoder_ != nullptr;
    s->Detach();
    if (cb != nullptr && had_decoder) {
      WEFT_LOG(debug, "HTTP/2 {} stream {} reset: {}", self.server_ ? "server" : "client", s->id_,
               nghttp2_http2_strerror(error_code));
      StreamResetReason reason = StreamResetReason::kRemoteReset;
      if (error_code == NGHTTP2_REFUSED_STREAM) {
        reason = StreamResetReason::kRemoteRefusedStreamReset;
      } else if (s->reset_locally_) {
        reason = StreamResetReason::kLocalReset;
      } else if (error_code == NGHTTP2_PROTOCOL_ERROR) {
        reason = StreamResetReason::kProtocolError;
      }
      cb->OnResetStream(reason, nghttp2_http2_strerror(error_code));
    }
    self.OnStreamClosed(*s);
    self.Remove(*s);
  }

 private:
  static int OnFrameSendCb(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Codec& self = Self(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        self.protocol_error_.empty()) {
      self.protocol_error_ = nghttp2_http2_strerror(frame->goaway.error_code);
    }
    // A server that answered before the request body ended tells the client to stop sending
    // (RFC 9113 §8.1: RST_STREAM with NO_ERROR after a complete response).
    if (self.server_ && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
      Http2Stream* s = self.FindStream(frame->hd.stream_id);
      if (s != nullptr && !s->remote_end_) {
        nghttp2_submit_rst_stream(self.session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  static int OnInvalidFrameCb(nghttp2_session*, const nghttp2_frame* frame, int lib_error_code,
                              void* user_data) {
    WEFT_LOG(debug, "HTTP/2 invalid frame on stream {}: {}", frame->hd.stream_id,
             nghttp2_strerror(lib_error_code));
    return 0;
  }

 public:
  static ssize_t ReadBodyCb(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void*) {
    return static_cast<Http2Stream*>(source->ptr)->ReadBody(buf, length, data_flags);
  }
};

// ---------------------------------------------------------------------------------------------
// Http2Stream

void Http2Stream::EncodeHeaders(HeaderMap& headers, bool end_stream) {
  Http2Codec& c = codec_;
  if (c.server_) {
    BuildResponseNv(headers, false, c.nva_);
  } else {
    BuildRequestNv(headers, c.nva_);
  }
  local_end_ = end_stream;
  nghttp2_data_provider provider;
  provider.source.ptr = this;
  provider.read_callback = &Http2Codec::ReadBodyCb;
  nghttp2_data_provider* body = end_stream ? nullptr : &provider;
  int rv;
  if (c.server_) {
    rv = nghttp2_submit_response(c.session_, id_, c.nva_.data(), c.nva_.size(), body);
  } else {
    rv = nghttp2_submit_request(c.session_, nullptr, c.nva_.data(), c.nva_.size(), body, this);
    if (rv > 0) id_ = rv;
  }
  if (rv < 0) {
    WEFT_LOG(debug, "HTTP/2: cannot submit headers: {}", nghttp2_strerror(rv));
    // E.g. the peer sent GOAWAY a moment ago: report it the way a refused stream is reported.
    StreamCallbacks* cb = callbacks_;
    Detach();
    if (cb) cb->OnResetStream(StreamResetReason::kRemoteRefusedStreamReset, nghttp2_strerror(rv));
    if (!c.server_) {
      c.OnStreamClosed(*this);
      c.Remove(*this);
    }
    return;
  }
  headers_sent_ = true;
  if (end_stream) AfterLocalEnd();
  c.SendPending();
}

void Http2Stream::Encode1xxHeaders(const HeaderMap& headers) {
  if (!codec_.server_ || id_ < 0) return;
  BuildResponseNv(headers, false, codec_.nva_);
  nghttp2_submit_headers(codec_.session_, NGHTTP2_FLAG_NONE, id_, nullptr, codec_.nva_.data(),
                         codec_.nva_.size(), nullptr);
  codec_.SendPending();
}

void Http2Stream::EncodeData(network::Buffer& data, bool end_stream) {
  if (!headers_sent_ || closed_ || reset_locally_) {
    data.Drain(data.length());
    return;
  }
  send_data_.Move(data);
  if (end_stream) local_end_ = true;
  if (!above_watermark_ && send_data_.length() > codec_.options_.stream_write_buffer_limit) {
    above_watermark_ = true;
    if (callbacks_) callbacks_->OnAboveWriteBufferHighWatermark();
  }
  if (data_deferred_) {
    data_deferred_ = false;
    nghttp2_session_resume_data(codec_.session_, id_);
  }
  if (end_stream) AfterLocalEnd();
  codec_.SendPending();
}

void Http2Stream::EncodeTrailers(const HeaderMap& trailers) {
  if (!headers_sent_ || closed_ || reset_locally_) return;
  if (!trailers.empty()) send_trailers_ = std::make_unique<HeaderMap>(trailers);
  local_end_ = true;
  if (data_deferred_) {
    data_deferred_ = false;
    nghttp2_session_resume_data(codec_.session_, id_);
  }
  AfterLocalEnd();
  codec_.SendPending();
}

void Http2Stream::AfterLocalEnd() {
  // The server's response is complete: the connection manager finishes the stream now and will
  // not hear from it again; whatever is left of the request body is dropped (and its window
  // returned) here.
  if (codec_.server_) Detach();
}

void Http2Stream::AfterResponseComplete() {
  // The upstream answered before our request ended (its decoder is gone, so no more body will
  // come): stop the stream rather than leave it half-open on the connection forever.
  if (!local_end_ && !closed_ && !reset_locally_ && id_ >= 0) {
    reset_locally_ = true;
    send_data_.Clear();
    nghttp2_submit_rst_stream(codec_.session_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
    codec_.SendPending();
  }
}

ssize_t Http2Stream::ReadBody(uint8_t* buf, size_t length, uint32_t* data_flags) {
  size_t n = std::min(length, send_data_.length());
  if (n > 0) {
    std::memcpy(buf, send_data_.data(), n);
    send_data_.Drain(n);
  }
  if (above_watermark_ && send_data_.length() < codec_.options_.stream_write_buffer_limit / 2) {
    above_watermark_ = false;
    codec_.NoteLowWatermark(*this);
  }
  if (send_data_.length() == 0) {
    if (local_end_) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (send_trailers_) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        BuildResponseNv(*send_trailers_, true, codec_.nva_);
        nghttp2_submit_trailer(codec_.session_, id_, codec_.nva_.data(), codec_.nva_.size());
        send_trailers_.reset();
      }
    } else if (n == 0) {
      data_deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return static_cast<ssize_t>(n);
}

void Http2Stream::ResetStream(StreamResetReason reason) {
  if (reset_locally_) return;
  reset_locally_ = true;
  StreamCallbacks* cb = callbacks_;
  Detach();
  send_data_.Clear();
  if (id_ >= 0 && !closed_) {
    nghttp2_submit_rst_stream(codec_.session_, NGHTTP2_FLAG_NONE, id_,
                              ResetCode(reason, codec_.server_));
  }
  // Like every reset, this one is reported back to whoever owns the stream (the connection
  // manager finishes its stream on it).
  if (cb) cb->OnResetStream(reason, "");
  if (id_ < 0 && !codec_.server_) {
    // Never sent: nghttp2 does not know it, so it will not close it.
    codec_.OnStreamClosed(*this);
    codec_.Remove(*this);
    return;
  }
  codec_.SendPending();
}

void Http2Stream::ReadDisable(bool disable) {
  read_disabled_ += disable ? 1 : -1;
  if (read_disabled_ < 0) read_disabled_ = 0;
  if (read_disabled_ == 0 && HasUndelivered()) codec_.ScheduleDeliver(*this);
}

void Http2Stream::Deliver() {
  if (read_disabled_ > 0 || removed_) return;
  if (decoder_ == nullptr) {
    codec_.Consume(id_, recv_data_.length());
    recv_data_.Clear();
    return;
  }
  bool end_with_data = remote_end_ && !recv_trailers_ && !remote_end_delivered_;
  if (recv_data_.length() > 0 || end_with_data) {
    size_t n = recv_data_.length();
    if (end_with_data) remote_end_delivered_ = true;
    StreamDecoder* decoder = decoder_;
    bool client_done = end_with_data && !codec_.server_;
    if (client_done) Detach();
    decoder->DecodeData(recv_data_, end_with_data);
    recv_data_.Clear();
    codec_.Consume(id_, n);
    if (client_done) AfterResponseComplete();
  }
  if (recv_trailers_ && decoder_ != nullptr && read_disabled_ == 0) {
    remote_end_delivered_ = true;
    StreamDecoder* decoder = decoder_;
    if (!codec_.server_) Detach();
    decoder->DecodeTrailers(std::move(recv_trailers_));
    if (!codec_.server_) AfterResponseComplete();
  }
  // nghttp2 already closed it (see OnStreamCloseCb): now it is done here too.
  if (closed_ && !HasUndelivered()) codec_.FinishClosed(*this, NGHTTP2_NO_ERROR);
}

// ---------------------------------------------------------------------------------------------
// Server

// HTTP/2 may split Cookie into one field per pair; an HTTP/1 upstream expects one field, joined
// with "; " (RFC 9113 §8.2.3). Only a request with several cookie fields pays for this.
void JoinCookies(HeaderMap& headers) {
  size_t count = 0;
  for (const HeaderField& f : headers) count += f.name == "cookie" ? 1 : 0;
  if (count < 2) return;
  std::string joined;
  for (const HeaderField& f : headers) {
    if (f.name != "cookie") continue;
    if (!joined.empty()) joined += "; ";
    joined += f.value;
  }
  headers.Remove("cookie");
  headers.Add("cookie", std::move(joined));
}

class Http2ServerConnection : public Connection, public Http2Codec {
 public:
  Http2ServerConnection(network::Connection& connection, ServerConnectionCallbacks& callbacks,
                        const CodecLimits& limits, const Http2Options& options)
      : Http2Codec(connection, true, options, limits), callbacks_(callbacks) {
    goaway_timer_ = connection.dispatcher().CreateTimer([this] { SendFinalGoAway(); });
    SendPending();
  }

  absl::Status Dispatch(network::Buffer& data) override { return DoDispatch(data); }
  void OnClose(StreamResetReason reason, std::string_view details) override {
    ResetAllStreams(reason, details);
  }
  Protocol protocol() const override { return Protocol::kHttp2; }

  // Drain: a GOAWAY carrying the largest stream id tells the client to open no new streams
  // while requests already on the wire are still served; after drain_timeout the final GOAWAY
  // names the last stream we took (RFC 9113 §6.8's two-step shutdown).
  void ShutdownNotice() override {
    if (shutdown_notice_sent_) return;
    shutdown_notice_sent_ = true;
    nghttp2_submit_shutdown_notice(session_);
    SendPending();
    goaway_timer_->Enable(options_.drain_timeout);
  }
  bool WantsMoreStreams() const override { return !final_goaway_sent_; }

  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override { SendPending(); }

  // Http2Codec
  void OnRequestHeadersBegin(int32_t id) override {
    Http2Stream& s = AddStream(nullptr);
    s.id_ = id;
    nghttp2_session_set_stream_user_data(session_, id, &s);
  }
  StreamDecoder* OnRequestHeadersComplete(Http2Stream& stream, HeaderMap& headers) override {
    JoinCookies(headers);
    return &callbacks_.NewStream(stream);
  }

 private:
  void SendFinalGoAway() {
    if (final_goaway_sent_ || !connection_.IsOpen()) return;
    final_goaway_sent_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    SendPending();
  }
  // After the final GOAWAY the connection ends once its last stream is done and written: a
  // response still waiting for the client's window is not cut short.
  void AfterSend() override {
    if (final_goaway_sent_ && streams_.empty() && !nghttp2_session_want_write(session_)) {
      connection_.Close(network::Connection::CloseType::kFlushWrite);
    }
  }

  ServerConnectionCallbacks& callbacks_;
  std::unique_ptr<event::Timer> goaway_timer_;
  bool shutdown_notice_sent_ = false;
  bool final_goaway_sent_ = false;
};

// ---------------------------------------------------------------------------------------------
// Client

class Http2ClientConnection : public ClientConnection, public Http2Codec {
 public:
  Http2ClientConnection(network::Connection& connection, ClientConnectionCallbacks& callbacks,
                        const Http2Options& options)
      : Http2Codec(connection, false, options, CodecLimits{}), callbacks_(callbacks) {
    SendPending();  // the preface and SETTINGS wait in the buffer until the connect completes
  }

  absl::Status Dispatch(network::Buffer& data) override { return DoDispatch(data); }
  void OnClose(StreamResetReason reason, std::string_view details) override {
    ResetAllStreams(reason, details);
  }
  Protocol protocol() const override { return Protocol::kHttp2; }
  bool WantsMoreStreams() const override { return !goaway_received_ && protocol_error_.empty(); }
  void OnAboveWriteBufferHighWatermark() override {}
  void OnBelowWriteBufferLowWatermark() override { SendPending(); }

  StreamEncoder& NewStream(StreamDecoder& response_decoder) override {
    ++active_;
    return AddStream(&response_decoder);
  }
  size_t ActiveStreams() const override { return active_; }
  size_t MaxConcurrentStreams() const override {
    uint32_t peer =
        nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return std::max<uint32_t>(1, std::min(peer, options_.max_concurrent_streams));
  }

  // Http2Codec
  void OnStreamClosed(Http2Stream& stream) override {
    if (active_ > 0) --active_;
    callbacks_.OnStreamDone(WantsMoreStreams());
  }
  void OnSettingsReceived() override { callbacks_.OnSettings(); }
  void OnGoAwayReceived() override {
    if (goaway_received_) return;
    goaway_received_ = true;
    callbacks_.OnGoAway();
  }

 private:
  ClientConnectionCallbacks& callbacks_;
  size_t active_ = 0;
  bool goaway_received_ = false;
};

}  // namespace

SniffResult SniffProtocol(std::string_view first_bytes) {
  size_t n = std::min(first_bytes.size(), kClientPreface.size());
  if (first_bytes.substr(0, n) != kClientPreface.substr(0, n)) return SniffResult::kHttp1;
  return n == kClientPreface.size() ? SniffResult::kHttp2 : SniffResult::kNeedMoreData;
}

std::unique_ptr<Connection> CreateHttp2ServerCodec(network::Connection& connection,
                                                   ServerConnectionCallbacks& callbacks,
                                                   const CodecLimits& limits,
                                                   const Http2Options& options) {
  return std::make_unique<Http2ServerConnection>(connection, callbacks, limits, options);
}

std::unique_ptr<ClientConnection> CreateHttp2ClientCodec(network::Connection& connection,
                                                         ClientConnectionCallbacks& callbacks,
                                                         const Http2Options& options) {
  return std::make_unique<Http2ClientConnection>(connection, callbacks, options);
}

}  // namespace weft::http
