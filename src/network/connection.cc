#include "network/connection.h"

#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/logging.h"

namespace weft::network {

namespace {
constexpr size_t kReadChunk = 16 * 1024;
}

Connection::Connection(event::Dispatcher& dispatcher, int fd, uint32_t buffer_limit)
    : Connection(dispatcher, fd, buffer_limit, false) {}

Connection::Connection(event::Dispatcher& dispatcher, int fd, uint32_t buffer_limit,
                       bool connecting)
    : dispatcher_(dispatcher),
      fd_(fd),
      state_(connecting ? State::kConnecting : State::kOpen),
      high_watermark_(buffer_limit ? buffer_limit : 1024 * 1024) {
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  file_event_ = dispatcher_.CreateFileEvent(fd_, [this](uint32_t events) { OnFileEvent(events); });
  if (!connecting) {
    local_ = LocalAddress(fd_);
    remote_ = PeerAddress(fd_);
  }
}

Connection::~Connection() {
  if (fd_ >= 0) {
    file_event_.reset();
    close(fd_);
  }
}

std::unique_ptr<Connection> Connection::Connect(event::Dispatcher& dispatcher, const Address& to,
                                                uint32_t buffer_limit, std::string* error) {
  auto fd = CreateTcpSocket(to.family());
  if (!fd.ok()) {
    *error = std::string(fd.status().message());
    return nullptr;
  }
  int rc = connect(*fd, to.sa(), to.len);
  if (rc != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    close(*fd);
    return nullptr;
  }
  auto conn = std::unique_ptr<Connection>(new Connection(dispatcher, *fd, buffer_limit, true));
  conn->remote_ = to;
  return conn;
}

void Connection::OnFileEvent(uint32_t events) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    if (!(events & (event::kWrite | event::kClosed))) return;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      close_reason_ = std::strerror(err);
      CloseSocket(ConnectionEvent::kRemoteClose);
      return;
    }
    state_ = State::kOpen;
    local_ = LocalAddress(fd_);
    if (transport_) {
      handshake_connect_pending_ = true;
      transport_->StartHandshake(wire_write_);
    } else {
      if (callbacks_) callbacks_->OnEvent(ConnectionEvent::kConnected);
      if (state_ == State::kClosed) return;
    }
    events |= event::kWrite;
  }
  if (events & event::kWrite) {
    write_scheduled_ = false;
    DoWrite();
    if (state_ == State::kClosed) return;
  }
  if (events & (event::kRead | event::kClosed)) {
    if (read_disable_count_ > 0) {
      read_pending_ = true;
    } else {
      DoRead();
    }
  }
}

void Connection::SetTransportSocket(std::unique_ptr<TransportSocket> transport) {
  transport_ = std::move(transport);
  if (!read_buffer_.empty() && file_event_) {
    wire_read_.Move(read_buffer_);
    file_event_->Activate(event::kRead);
  }
}

void Connection::DoRead() {
  if (read_eof_) return;
  bool got_eof = false;
  // With a transport socket, the socket's bytes are ciphertext: they go to wire_read_ first.
  Buffer& in = transport_ ? wire_read_ : read_buffer_;
  for (;;) {
    char* dst = in.Reserve(kReadChunk);
    size_t room = in.TailRoom();
    ssize_t n = read(fd_, dst, room);
    if (n > 0) {
      in.Commit(static_cast<size_t>(n));
      bytes_read_ += static_cast<uint64_t>(n);
      // A short read drained the socket: the next bytes bring a new edge.
      if (static_cast<size_t>(n) < room) break;
      // Do not buffer without bound before the owner sees the data.
      if (in.length() >= high_watermark_) {
        read_pending_ = true;
        file_event_->Activate(event::kRead);
        break;
      }
      continue;
    }
    if (n == 0) {
      got_eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) break;
    reset_by_peer_ = (errno == ECONNRESET);
    close_reason_ = std::strerror(errno);
    CloseSocket(ConnectionEvent::kRemoteClose);
    return;
  }
  if (transport_ && !ProcessWireData(got_eof)) return;
  if (got_eof) read_eof_ = true;
  if ((!read_buffer_.empty() || got_eof) && callbacks_) {
    callbacks_->OnData(read_buffer_, got_eof);
  }
  if (state_ == State::kClosed) return;
  // Both directions done: the connection is over.
  if (read_eof_ && shutdown_written_ && write_buffer_.empty()) {
    CloseSocket(ConnectionEvent::kRemoteClose);
  }
}

bool Connection::ProcessWireData(bool& got_eof) {
  const bool was_done = transport_->HandshakeDone();
  TransportSocket::Result result = transport_->OnWireData(wire_read_, read_buffer_, wire_write_);
  if (result == TransportSocket::Result::kError) {
    close_reason_ = transport_->failure_reason();
    FlushWireBestEffort();  // the alert tells the peer why
    CloseSocket(ConnectionEvent::kRemoteClose);
    return false;
  }
  if (result == TransportSocket::Result::kPeerClosed) got_eof = true;
  const bool just_done = !was_done && transport_->HandshakeDone();
  if (!wire_write_.empty() || (just_done && !write_buffer_.empty())) ScheduleWrite();
  if (just_done && handshake_connect_pending_) {
    handshake_connect_pending_ = false;
    if (callbacks_) callbacks_->OnEvent(ConnectionEvent::kConnected);
    if (state_ == State::kClosed) return false;
  } else if (just_done && callbacks_) {
    callbacks_->OnTransportSecured();
    if (state_ == State::kClosed) return false;
  }
  return true;
}

void Connection::FlushWireBestEffort() {
  if (fd_ < 0 || wire_write_.empty()) return;
  ssize_t n = write(fd_, wire_write_.data(), wire_write_.length());
  if (n > 0) wire_write_.Drain(static_cast<size_t>(n));
}

void Connection::DoWrite() {
  if (transport_ && transport_->HandshakeDone()) {
    if (!write_buffer_.empty() &&
        transport_->Encrypt(write_buffer_, wire_write_) == TransportSocket::Result::kError) {
      close_reason_ = transport_->failure_reason();
      CloseSocket(ConnectionEvent::kLocalClose);
      return;
    }
    // TLS half-close: close_notify goes out before the TCP FIN.
    if (write_end_stream_ && write_buffer_.empty() && !close_notify_sent_) {
      transport_->CloseNotify(wire_write_);
      close_notify_sent_ = true;
    }
  }
  Buffer& out = transport_ ? wire_write_ : write_buffer_;
  while (!out.empty()) {
    ssize_t n = write(fd_, out.data(), out.length());
    if (n > 0) {
      out.Drain(static_cast<size_t>(n));
      bytes_written_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    reset_by_peer_ = (errno == ECONNRESET || errno == EPIPE);
    close_reason_ = std::strerror(errno);
    CloseSocket(ConnectionEvent::kRemoteClose);
    return;
  }
  UpdateWatermarks();
  if (state_ == State::kClosed) return;
  if (write_buffer_.empty() && wire_write_.empty()) {
    if (state_ == State::kClosing) {
      CloseSocket(ConnectionEvent::kLocalClose);
      return;
    }
    if (write_end_stream_ && !shutdown_written_ && (!transport_ || close_notify_sent_)) {
      shutdown(fd_, SHUT_WR);
      shutdown_written_ = true;
      if (read_eof_) CloseSocket(ConnectionEvent::kRemoteClose);
    }
  }
}

void Connection::UpdateWatermarks() {
  size_t pending = PendingWriteBytes();
  if (!above_high_watermark_ && pending > high_watermark_) {
    above_high_watermark_ = true;
    if (callbacks_) callbacks_->OnAboveWriteHighWatermark();
  } else if (above_high_watermark_ && pending <= high_watermark_ / 2) {
    above_high_watermark_ = false;
    if (callbacks_) callbacks_->OnBelowWriteLowWatermark();
  }
}

void Connection::Write(Buffer& data, bool end_stream) {
  if (state_ != State::kOpen && state_ != State::kConnecting) {
    data.Drain(data.length());
    return;
  }
  write_buffer_.Move(data);
  if (end_stream) write_end_stream_ = true;
  ScheduleWrite();
}

void Connection::Write(std::string_view data, bool end_stream) {
  if (state_ != State::kOpen && state_ != State::kConnecting) return;
  write_buffer_.Append(data);
  if (end_stream) write_end_stream_ = true;
  ScheduleWrite();
}

void Connection::ScheduleWrite() {
  // Writes wait until the current event has been handled, so a response's head and body (or
  // several pipelined responses) leave in one write(2) instead of one each.
  // While connecting, the connect's own writable event flushes the buffer.
  if (write_scheduled_ || state_ != State::kOpen) return;
  write_scheduled_ = true;
  file_event_->Activate(event::kWrite);
  UpdateWatermarks();
}

void Connection::Close(CloseType type) {
  if (state_ == State::kClosed) return;
  // Already flushing toward a close: a second flushing close must not cut the backlog short.
  if (state_ == State::kClosing && type == CloseType::kFlushWrite) return;
  if (type == CloseType::kFlushWrite && state_ == State::kOpen && PendingWriteBytes() > 0) {
    state_ = State::kClosing;
    // Stop delivering reads; the close happens once the backlog is written (or fails).
    read_disable_count_++;
    return;
  }
  CloseSocket(ConnectionEvent::kLocalClose);
}

void Connection::CloseSocket(ConnectionEvent event) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  file_event_.reset();
  // A local close of a TLS connection says so (close_notify) when the socket takes it now.
  if (event == ConnectionEvent::kLocalClose && transport_ && transport_->HandshakeDone() &&
      !close_notify_sent_) {
    transport_->CloseNotify(wire_write_);
    close_notify_sent_ = true;
    FlushWireBestEffort();
  }
  close(fd_);
  fd_ = -1;
  if (callbacks_) callbacks_->OnEvent(event);
}

void Connection::ReadDisable(bool disable) {
  if (state_ == State::kClosed) return;
  if (disable) {
    read_disable_count_++;
    return;
  }
  if (read_disable_count_ > 0 && --read_disable_count_ == 0) {
    // Data may have arrived (or still sit in our buffer) while reads were off.
    if (read_pending_ || !read_buffer_.empty()) {
      read_pending_ = false;
      file_event_->Activate(event::kRead);
    }
  }
}

}  // namespace weft::network
