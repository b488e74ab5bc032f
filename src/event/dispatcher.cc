#include "event/dispatcher.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/logging.h"

namespace weft::event {

namespace {
constexpr int kMaxEventsPerWait = 256;
}

FileEvent::FileEvent(Dispatcher& dispatcher, int fd, std::function<void(uint32_t)> cb)
    : dispatcher_(dispatcher), fd_(fd), cb_(std::move(cb)) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = this;
  if (epoll_ctl(dispatcher_.epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) {
    WEFT_LOG(error, "epoll_ctl ADD fd {}: {}", fd_, std::strerror(errno));
  }
}

FileEvent::~FileEvent() {
  epoll_ctl(dispatcher_.epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
  dispatcher_.ForgetFileEvent(this);
}

void FileEvent::Activate(uint32_t events) {
  injected_ |= events;
  if (!queued_) {
    queued_ = true;
    dispatcher_.activated_.push_back(this);
  }
}

Timer::~Timer() { Disable(); }

void Timer::Enable(Milliseconds delay) { dispatcher_.ArmTimer(this, delay); }

void Timer::Disable() {
  if (heap_index_ >= 0) dispatcher_.DisarmTimer(this);
}

Dispatcher::Dispatcher() : now_(std::chrono::steady_clock::now()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    WEFT_LOG(critical, "cannot create event loop: {}", std::strerror(errno));
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake-up eventfd
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_id_ = std::this_thread::get_id();
}

Dispatcher::~Dispatcher() {
  to_delete_.clear();
  close(wake_fd_);
  close(epoll_fd_);
}

std::unique_ptr<FileEvent> Dispatcher::CreateFileEvent(int fd, std::function<void(uint32_t)> cb) {
  return std::unique_ptr<FileEvent>(new FileEvent(*this, fd, std::move(cb)));
}

std::unique_ptr<Timer> Dispatcher::CreateTimer(std::function<void()> cb) {
  return std::unique_ptr<Timer>(new Timer(*this, std::move(cb)));
}

void Dispatcher::Post(std::function<void()> cb) {
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    posted_.push_back(std::move(cb));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void Dispatcher::DeferredDelete(std::unique_ptr<DeferredDeletable> object) {
  to_delete_.push_back(std::move(object));
}

void Dispatcher::Exit() {
  Post([this] { exit_ = true; });
}

void Dispatcher::ForgetFileEvent(FileEvent* event) {
  for (int i = 0; i < batch_size_; ++i) {
    if (batch_[i].data.ptr == event) batch_[i].data.ptr = &batch_;  // &batch_ marks "gone"
  }
  if (event->queued_) RemoveActivated(event);
  // An event destroyed by an earlier callback of the same RunActivated() pass.
  for (auto& e : running_activated_) {
    if (e == event) e = nullptr;
  }
}

void Dispatcher::RemoveActivated(FileEvent* event) {
  auto it = std::find(activated_.begin(), activated_.end(), event);
  if (it != activated_.end()) *it = nullptr;
  event->queued_ = false;
}

// ---- timers: a binary min-heap whose entries know their own index, so cancel is O(log n).

bool Dispatcher::HeapLess(size_t a, size_t b) const {
  if (heap_[a]->deadline_ != heap_[b]->deadline_) return heap_[a]->deadline_ < heap_[b]->deadline_;
  return heap_[a]->sequence_ < heap_[b]->sequence_;
}

void Dispatcher::HeapSwap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->heap_index_ = static_cast<int>(a);
  heap_[b]->heap_index_ = static_cast<int>(b);
}

void Dispatcher::HeapUp(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!HeapLess(i, parent)) break;
    HeapSwap(i, parent);
    i = parent;
  }
}

void Dispatcher::HeapDown(size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && HeapLess(l, m)) m = l;
    if (r < heap_.size() && HeapLess(r, m)) m = r;
    if (m == i) break;
    HeapSwap(i, m);
    i = m;
  }
}

void Dispatcher::ArmTimer(Timer* timer, Milliseconds delay) {
  if (timer->heap_index_ >= 0) DisarmTimer(timer);
  // Deadlines count from the real time now, not the loop's cached time, so a long callback
  // does not shorten the timers it arms.
  timer->deadline_ = std::chrono::steady_clock::now() + delay;
  timer->sequence_ = ++timer_sequence_;
  timer->heap_index_ = static_cast<int>(heap_.size());
  heap_.push_back(timer);
  HeapUp(heap_.size() - 1);
}

void Dispatcher::DisarmTimer(Timer* timer) {
  size_t i = static_cast<size_t>(timer->heap_index_);
  size_t last = heap_.size() - 1;
  if (i != last) HeapSwap(i, last);
  heap_.pop_back();
  timer->heap_index_ = -1;
  if (i < heap_.size()) {
    HeapDown(i);
    HeapUp(i);
  }
}

void Dispatcher::RunExpiredTimers() {
  while (!heap_.empty() && heap_[0]->deadline_ <= now_) {
    Timer* timer = heap_[0];
    DisarmTimer(timer);
    timer->cb_();  // may destroy or re-arm the timer
  }
}

int Dispatcher::NextTimeoutMs() const {
  if (!activated_.empty() || !to_delete_.empty()) return 0;
  if (heap_.empty()) return -1;
  auto delta = heap_[0]->deadline_ - std::chrono::steady_clock::now();
  if (delta <= delta.zero()) return 0;
  // Round up so we never wake before the deadline and spin.
  auto ms = std::chrono::duration_cast<Milliseconds>(delta + std::chrono::microseconds(999));
  return static_cast<int>(std::min<int64_t>(ms.count(), 60'000));
}

void Dispatcher::RunPosted() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    callbacks.swap(posted_);
  }
  for (auto& cb : callbacks) cb();
}

void Dispatcher::RunActivated() {
  // Callbacks may activate more events; those run on the next iteration.
  running_activated_.clear();
  running_activated_.swap(activated_);
  for (size_t i = 0; i < running_activated_.size(); ++i) {
    FileEvent* event = running_activated_[i];
    if (event == nullptr) continue;
    event->queued_ = false;
    uint32_t events = event->injected_;
    event->injected_ = 0;
    if (events != 0) event->cb_(events);
  }
}

void Dispatcher::Run() {
  thread_id_ = std::this_thread::get_id();
  exit_ = false;  // Exit() only ever sets this from a posted callback, so Run() can run again
  epoll_event events[kMaxEventsPerWait];
  while (!exit_) {
    int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, NextTimeoutMs());
    now_ = std::chrono::steady_clock::now();
    if (n < 0 && errno != EINTR) {
      WEFT_LOG(critical, "epoll_wait: {}", std::strerror(errno));
      std::abort();
    }
    batch_ = events;
    batch_size_ = std::max(n, 0);
    for (int i = 0; i < batch_size_; ++i) {
      void* ptr = events[i].data.ptr;
      if (ptr == nullptr) {
        uint64_t value;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &value, sizeof(value));
        RunPosted();
        continue;
      }
      if (ptr == &batch_) continue;  // destroyed earlier in this batch
      auto* event = static_cast<FileEvent*>(ptr);
      uint32_t ready = 0;
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kRead;
      if (events[i].events & (EPOLLOUT | EPOLLERR)) ready |= kWrite;
      if (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kClosed;
      // A pending Activate() for the same fd is folded into this call.
      if (event->queued_) {
        ready |= event->injected_;
        event->injected_ = 0;
        RemoveActivated(event);
      }
      event->cb_(ready);
    }
    batch_ = nullptr;
    batch_size_ = 0;
    RunActivated();
    RunExpiredTimers();
    to_delete_.clear();
  }
  // Whatever was posted before exit still runs, so shutdown callbacks are not lost.
  RunPosted();
  to_delete_.clear();
}

}  // namespace weft::event
