// A timeout for inactivity that costs nothing per activity. Touch() only records the time (a
// request or a read would otherwise re-sort the timer heap); the underlying timer, when it
// fires, either calls `on_idle` or sleeps for the remainder. Used for connection, stream and
// tcp_proxy idle timeouts.
//
// Not thread-safe: belongs to one dispatcher.
#pragma once

#include <functional>
#include <memory>

#include "event/dispatcher.h"

namespace weft::event {

class IdleTimer {
 public:
  // `on_idle` returns false when its owner is busy after all (e.g. a connection with a request
  // in progress): that counts as activity and the wait starts again.
  IdleTimer(Dispatcher& dispatcher, std::function<bool()> on_idle)
      : dispatcher_(dispatcher),
        on_idle_(std::move(on_idle)),
        timer_(dispatcher, [this] { OnFire(); }) {}

  // Starts (or restarts) the wait with `timeout`, counting from now; 0 disables.
  void Start(Milliseconds timeout) {
    timeout_ = timeout;
    Touch();
    if (timeout_.count() > 0) {
      timer_.Enable(timeout_);
    } else {
      timer_.Disable();
    }
  }
  void Touch() { last_activity_ = dispatcher_.Now(); }
  void Stop() { timer_.Disable(); }

 private:
  void OnFire() {
    auto idle = std::chrono::duration_cast<Milliseconds>(dispatcher_.Now() - last_activity_);
    if (idle < timeout_) {
      timer_.Enable(timeout_ - idle);
      return;
    }
    if (!on_idle_()) Start(timeout_);
  }

  Dispatcher& dispatcher_;
  std::function<bool()> on_idle_;
  Timer timer_;  // embedded: a stream's idle timer costs no allocation of its own
  Milliseconds timeout_{0};
  MonotonicTime last_activity_{};
};

}  // namespace weft::event
