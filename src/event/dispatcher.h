// The event loop: one per thread (the main thread and each worker). Everything a connection does
// happens on the dispatcher that owns it; other threads reach it only through Post().
//
// Not thread-safe, except Post() and Exit(), which any thread may call.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace weft::event {

using MonotonicTime = std::chrono::steady_clock::time_point;
using Milliseconds = std::chrono::milliseconds;

// Bits passed to a FileEvent callback.
enum FileReadyType : uint32_t { kRead = 0x1, kWrite = 0x2, kClosed = 0x4 };

class Dispatcher;

// Interest in one file descriptor, edge-triggered: the callback runs when the fd becomes
// readable or writable; the owner reads/writes until EAGAIN (or a short read) and may call
// Activate() to get a callback later without a kernel edge (used to resume a paused reader).
class FileEvent {
 public:
  ~FileEvent();
  FileEvent(const FileEvent&) = delete;
  FileEvent& operator=(const FileEvent&) = delete;

  // Schedules the callback with `events` on the next loop iteration.
  void Activate(uint32_t events);

 private:
  friend class Dispatcher;
  FileEvent(Dispatcher& dispatcher, int fd, std::function<void(uint32_t)> cb);
  Dispatcher& dispatcher_;
  int fd_;
  std::function<void(uint32_t)> cb_;
  uint32_t injected_ = 0;  // events queued by Activate()
  bool queued_ = false;
};

// A one-shot timer, re-armable. Destroying it cancels it. Per-request owners embed one (a
// member or std::optional<Timer>) instead of Dispatcher::CreateTimer's heap allocation; either
// way it must not outlive its dispatcher.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> cb)
      : dispatcher_(dispatcher), cb_(std::move(cb)) {}
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void Enable(Milliseconds delay);
  void Disable();
  bool Enabled() const { return heap_index_ >= 0; }

 private:
  friend class Dispatcher;
  Dispatcher& dispatcher_;
  std::function<void()> cb_;
  MonotonicTime deadline_{};
  uint64_t sequence_ = 0;  // ties broken by arming order
  int heap_index_ = -1;
};

// Something whose destruction must wait until the current callback stack has unwound.
class DeferredDeletable {
 public:
  virtual ~DeferredDeletable() = default;
};

// Wraps any object for DeferredDelete(): `dispatcher.DeferredDelete(DeferLater(std::move(p)))`.
template <typename T>
class DeferredHolder : public DeferredDeletable {
 public:
  explicit DeferredHolder(std::unique_ptr<T> object) : object_(std::move(object)) {}

 private:
  std::unique_ptr<T> object_;
};
// An object that is itself DeferredDeletable goes to the queue as it is; anything else is
// wrapped in a DeferredHolder. Per-request objects (streams, routers) derive from
// DeferredDeletable so that ending a request does not allocate a holder for each of them.
template <typename T>
std::unique_ptr<DeferredDeletable> DeferLater(std::unique_ptr<T> object) {
  if constexpr (std::is_base_of_v<DeferredDeletable, T>) {
    return object;
  } else {
    return std::make_unique<DeferredHolder<T>>(std::move(object));
  }
}

class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  std::unique_ptr<FileEvent> CreateFileEvent(int fd, std::function<void(uint32_t)> cb);
  std::unique_ptr<Timer> CreateTimer(std::function<void()> cb);

  // Runs `cb` on this dispatcher's thread. Thread-safe.
  void Post(std::function<void()> cb);
  // Destroys `object` after the current event has been handled.
  void DeferredDelete(std::unique_ptr<DeferredDeletable> object);

  // Runs until Exit(). Binds the dispatcher to the calling thread.
  void Run();
  // Makes Run() return after the current iteration. Thread-safe.
  void Exit();

  // The time at the start of this loop iteration: cheap, and what timeouts should use.
  MonotonicTime Now() const { return now_; }
  // The wall clock, for access logs and Date headers.
  std::chrono::system_clock::time_point SystemNow() const {
    return std::chrono::system_clock::now();
  }
  bool IsThreadSafe() const { return std::this_thread::get_id() == thread_id_; }

 private:
  friend class FileEvent;
  friend class Timer;

  void ArmTimer(Timer* timer, Milliseconds delay);
  void DisarmTimer(Timer* timer);
  void HeapSwap(size_t a, size_t b);
  void HeapUp(size_t i);
  void HeapDown(size_t i);
  bool HeapLess(size_t a, size_t b) const;
  void RunExpiredTimers();
  int NextTimeoutMs() const;
  void RunPosted();
  void RunActivated();
  void RemoveActivated(FileEvent* event);
  void ForgetFileEvent(FileEvent* event);

  int epoll_fd_;
  int wake_fd_;
  bool exit_ = false;
  std::thread::id thread_id_;
  MonotonicTime now_;
  uint64_t timer_sequence_ = 0;
  std::vector<Timer*> heap_;
  std::vector<FileEvent*> activated_;          // Activate()d, to run next iteration
  std::vector<FileEvent*> running_activated_;  // the ones running now
  std::vector<std::unique_ptr<DeferredDeletable>> to_delete_;
  // The batch epoll_wait returned, so a FileEvent destroyed mid-batch can be blanked out of it.
  epoll_event* batch_ = nullptr;
  int batch_size_ = 0;

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;  // GUARDED_BY(post_mutex_)
};

}  // namespace weft::event
