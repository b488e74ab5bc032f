// A non-blocking TCP connection on one dispatcher: reads into a buffer and hands it to its owner,
// writes what the owner gives it, with half-close and watermark-based flow control.
//
// Flow control: when more than `high_watermark` bytes wait to be written, the owner is told
// (OnAboveWriteHighWatermark) so it can stop reading from the other side; when the backlog drains
// below half of that, OnBelowWriteLowWatermark lets it resume. Not thread-safe: everything runs
// on the owning dispatcher's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "event/dispatcher.h"
#include "network/address.h"
#include "network/buffer.h"
#include "network/transport_socket.h"

namespace weft::network {

enum class ConnectionEvent { kConnected, kRemoteClose, kLocalClose };

class ConnectionCallbacks {
 public:
  virtual ~ConnectionCallbacks() = default;
  // New bytes are in `data` (the owner drains what it consumes). `end_stream` means the peer
  // half-closed: no more bytes will come.
  virtual void OnData(Buffer& data, bool end_stream) = 0;
  virtual void OnEvent(ConnectionEvent event) = 0;
  virtual void OnAboveWriteHighWatermark() {}
  virtual void OnBelowWriteLowWatermark() {}
  // An accepted connection's transport socket finished its handshake (peer certificate, SNI,
  // ALPN now in security_info()), before any plaintext is passed to OnData.
  virtual void OnTransportSecured() {}
};

class Connection {
 public:
  // Wraps an accepted (connected) socket.
  Connection(event::Dispatcher& dispatcher, int fd, uint32_t buffer_limit);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts a non-blocking connect; kConnected or kRemoteClose (failure) follows.
  static std::unique_ptr<Connection> Connect(event::Dispatcher& dispatcher, const Address& to,
                                             uint32_t buffer_limit, std::string* error);

  void SetCallbacks(ConnectionCallbacks* callbacks) { callbacks_ = callbacks; }
  // Puts a transport socket (TLS) between the socket and the owner. Set before any byte flows:
  // right after accept or Connect(). A client connection then raises kConnected only once the
  // handshake is done (as Envoy's TLS socket does), so connect timeouts cover the handshake.
  // Bytes already read in plaintext (a listener filter's peek at a ClientHello) are the transport
  // socket's first wire bytes: they are handed to it on the next loop iteration.
  void SetTransportSocket(std::unique_ptr<TransportSocket> transport);
  const TransportSocket* transport_socket() const { return transport_.get(); }
  // The handshake's facts, or nullptr for a plaintext connection (or one not yet secured).
  const SecurityInfo* security_info() const {
    return transport_ && transport_->HandshakeDone() ? transport_->security_info().get() : nullptr;
  }
  // The same object, for a holder that may outlive the connection (a stream's StreamInfo).
  std::shared_ptr<const SecurityInfo> shared_security_info() const {
    if (!transport_ || !transport_->HandshakeDone()) return nullptr;
    return transport_->security_info();
  }
  ConnectionCallbacks* callbacks() const { return callbacks_; }
  // For a connection redirected to the proxy (iptables REDIRECT): from now on local_address() is
  // the destination the client meant (SO_ORIGINAL_DST), as Envoy's original_dst filter does.
  void RestoreLocalAddress(const Address& original) {
    local_ = original;
    local_string_.clear();
  }

  // Queues bytes (moved out of `data`) and writes as much as the socket takes now.
  void Write(Buffer& data, bool end_stream);
  void Write(std::string_view data, bool end_stream);

  enum class CloseType { kNoFlush, kFlushWrite };
  // Closes; with kFlushWrite, pending bytes are written first. Raises kLocalClose (once).
  void Close(CloseType type);

  // Stops (or resumes) reading; nested calls count, as in Envoy.
  void ReadDisable(bool disable);
  bool ReadEnabled() const { return read_disable_count_ == 0; }

  bool IsOpen() const { return state_ != State::kClosed; }
  bool Connecting() const { return state_ == State::kConnecting || handshake_connect_pending_; }
  size_t PendingWriteBytes() const { return write_buffer_.length() + wire_write_.length(); }
  bool AboveHighWatermark() const { return above_high_watermark_; }
  int fd() const { return fd_; }
  const Address& local_address() const { return local_; }
  const Address& remote_address() const { return remote_; }
  // "ip:port" forms, formatted once per connection (every request's access log wants them).
  const std::string& local_address_string() const {
    if (local_string_.empty()) local_string_ = local_.ToString();
    return local_string_;
  }
  const std::string& remote_address_string() const {
    if (remote_string_.empty()) remote_string_ = remote_.ToString();
    return remote_string_;
  }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }
  // Why it closed (errno text, "connection reset", ...); empty while open.
  const std::string& close_reason() const { return close_reason_; }
  event::Dispatcher& dispatcher() { return dispatcher_; }
  // When the peer resets (RST) instead of closing cleanly.
  bool reset_by_peer() const { return reset_by_peer_; }

 private:
  enum class State { kConnecting, kOpen, kClosing, kClosed };
  Connection(event::Dispatcher& dispatcher, int fd, uint32_t buffer_limit, bool connecting);
  void OnFileEvent(uint32_t events);
  void DoRead();
  void DoWrite();
  void ScheduleWrite();
  void CloseSocket(ConnectionEvent event);
  void UpdateWatermarks();
  // Runs the transport socket over newly read wire bytes; false if the connection closed.
  bool ProcessWireData(bool& got_eof);
  // One non-blocking attempt to send pending wire bytes (a TLS alert) before the socket closes.
  void FlushWireBestEffort();

  event::Dispatcher& dispatcher_;
  int fd_;
  std::unique_ptr<event::FileEvent> file_event_;
  ConnectionCallbacks* callbacks_ = nullptr;
  State state_;
  Buffer read_buffer_;
  Buffer write_buffer_;
  uint32_t high_watermark_;
  bool above_high_watermark_ = false;
  int read_disable_count_ = 0;
  bool read_pending_ = false;      // readable while disabled: read when re-enabled
  bool read_eof_ = false;          // peer half-closed
  bool write_end_stream_ = false;  // shutdown(SHUT_WR) once the buffer drains
  bool write_scheduled_ = false;   // a write is queued for the end of this loop iteration
  bool shutdown_written_ = false;
  bool reset_by_peer_ = false;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_written_ = 0;
  Address local_, remote_;
  mutable std::string local_string_, remote_string_;
  std::string close_reason_;
  // Transport socket (TLS): ciphertext read but not yet decrypted, and encrypted bytes to send.
  std::unique_ptr<TransportSocket> transport_;
  Buffer wire_read_;
  Buffer wire_write_;
  bool handshake_connect_pending_ = false;  // client: kConnected waits for the handshake
  bool close_notify_sent_ = false;
};

}  // namespace weft::network
