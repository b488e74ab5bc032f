#include "network/listen_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace weft::network {

absl::StatusOr<int> BindListenSocket(const Address& address, int backlog, bool reuse_port,
                                     bool freebind) {
  ASSIGN_OR_RETURN(int fd, CreateTcpSocket(address.family()));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (freebind) setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, address.sa(), address.len) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot bind ", address.ToString(), ": ", std::strerror(err)));
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", std::strerror(err)));
  }
  return fd;
}

Acceptor::Acceptor(event::Dispatcher& dispatcher, int listen_fd, std::function<void(int)> on_accept)
    : fd_(listen_fd), on_accept_(std::move(on_accept)) {
  event_ = dispatcher.CreateFileEvent(fd_, [this](uint32_t) { OnReadable(); });
  retry_timer_ = dispatcher.CreateTimer([this] { OnReadable(); });
}

Acceptor::~Acceptor() { Close(); }

void Acceptor::Close() {
  if (fd_ < 0) return;
  retry_timer_.reset();
  event_.reset();
  close(fd_);
  fd_ = -1;
}

void Acceptor::OnReadable() {
  // Edge-triggered: accept until the queue is empty, but yield after a batch so one busy
  // listener cannot starve the rest of the loop.
  for (int i = 0; i < 64 && fd_ >= 0; ++i) {
    int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN) return;
    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): the connection stays in
    // the kernel's backlog, and with edge-triggered events no new edge may come for it, so try
    // again shortly rather than waiting for the next client.
    WEFT_LOG(warn, "accept: {}; retrying in 100ms", std::strerror(errno));
    retry_timer_->Enable(std::chrono::milliseconds(100));
    return;
  }
  if (fd_ >= 0) event_->Activate(event::kRead);
}

}  // namespace weft::network
