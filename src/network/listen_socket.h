// Listening sockets. The main thread binds every listener once per worker with SO_REUSEPORT, so
// a bind error is reported before any worker starts and the kernel spreads new connections
// across workers without a shared accept lock.
#pragma once

#include <functional>
#include <memory>

#include "base/status.h"
#include "event/dispatcher.h"
#include "network/address.h"

namespace weft::network {

// Binds and listens; the fd is non-blocking and close-on-exec.
absl::StatusOr<int> BindListenSocket(const Address& address, int backlog, bool reuse_port,
                                     bool freebind = false);

// Accepts connections from a listening fd on one dispatcher, handing each accepted fd to
// `on_accept`. Owns the fd. Not thread-safe.
class Acceptor {
 public:
  Acceptor(event::Dispatcher& dispatcher, int listen_fd, std::function<void(int fd)> on_accept);
  ~Acceptor();
  // Stops accepting and closes the listening socket (drain). Idempotent.
  void Close();

 private:
  void OnReadable();
  int fd_;
  std::function<void(int)> on_accept_;
  std::unique_ptr<event::FileEvent> event_;
  std::unique_ptr<event::Timer> retry_timer_;
};

}  // namespace weft::network
