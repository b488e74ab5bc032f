#include "event/dispatcher.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "event/idle_timer.h"

namespace weft::event {
namespace {

TEST(DispatcherTest, TimersFireInDeadlineOrderAndCanBeCancelled) {
  Dispatcher d;
  std::vector<int> fired;
  auto t1 = d.CreateTimer([&] { fired.push_back(1); });
  auto t2 = d.CreateTimer([&] { fired.push_back(2); });
  auto t3 = d.CreateTimer([&] { fired.push_back(3); });
  auto stop = d.CreateTimer([&] { d.Exit(); });
  t1->Enable(Milliseconds(20));
  t2->Enable(Milliseconds(5));
  t3->Enable(Milliseconds(10));
  t3->Disable();
  stop->Enable(Milliseconds(40));
  d.Run();
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
  EXPECT_FALSE(t1->Enabled());
}

TEST(DispatcherTest, RearmingMovesTheDeadline) {
  Dispatcher d;
  int fired = 0;
  auto t = d.CreateTimer([&] { ++fired; });
  auto stop = d.CreateTimer([&] { d.Exit(); });
  t->Enable(Milliseconds(5));
  t->Enable(Milliseconds(500));  // pushed past the stop timer: must not fire
  stop->Enable(Milliseconds(30));
  d.Run();
  EXPECT_EQ(fired, 0);
}

TEST(DispatcherTest, PostFromAnotherThreadRunsOnTheLoop) {
  Dispatcher d;
  std::thread::id ran_on;
  std::thread poster([&] {
    d.Post([&] {
      ran_on = std::this_thread::get_id();
      d.Exit();
    });
  });
  std::thread::id loop_thread = std::this_thread::get_id();
  d.Run();
  poster.join();
  EXPECT_EQ(ran_on, loop_thread);
}

TEST(DispatcherTest, FileEventReportsReadableAndSurvivesSelfDestruction) {
  Dispatcher d;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  std::unique_ptr<FileEvent> event;
  int calls = 0;
  event = d.CreateFileEvent(fds[0], [&](uint32_t events) {
    if (events & kRead) {
      ++calls;
      event.reset();  // destroying the event from its own callback is allowed
      d.Exit();
    }
  });
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  d.Run();
  EXPECT_EQ(calls, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST(DispatcherTest, ActivateInjectsAnEventWithoutTheKernel) {
  Dispatcher d;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  uint32_t seen = 0;
  auto event = d.CreateFileEvent(fds[0], [&](uint32_t events) {
    seen |= events;
    if (events & kRead) d.Exit();
  });
  event->Activate(kRead);
  d.Run();
  EXPECT_TRUE(seen & kRead);
  close(fds[0]);
  close(fds[1]);
}

struct Tracked : DeferredDeletable {
  explicit Tracked(bool* deleted) : deleted(deleted) {}
  ~Tracked() override { *deleted = true; }
  bool* deleted;
};

TEST(DispatcherTest, DeferredDeleteWaitsForTheCallbackToReturn) {
  Dispatcher d;
  bool deleted = false;
  bool deleted_during_callback = true;
  d.Post([&] {
    d.DeferredDelete(std::make_unique<Tracked>(&deleted));
    deleted_during_callback = deleted;
    d.Exit();
  });
  d.Run();
  EXPECT_FALSE(deleted_during_callback);
  EXPECT_TRUE(deleted);
}

}  // namespace
}  // namespace weft::event

namespace weft::event {
namespace {

TEST(IdleTimerTest, FiresOnlyAfterAWholeTimeoutWithoutActivity) {
  Dispatcher d;
  int fired = 0;
  IdleTimer idle(d, [&] {
    ++fired;
    d.Exit();
    return true;
  });
  idle.Start(Milliseconds(40));
  // Activity every 10 ms for 100 ms keeps it from firing.
  int touches = 0;
  std::unique_ptr<Timer> toucher;
  toucher = d.CreateTimer([&] {
    if (++touches < 10) {
      idle.Touch();
      toucher->Enable(Milliseconds(10));
    }
  });
  toucher->Enable(Milliseconds(10));
  d.Run();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(touches, 10);  // it fired only after the touching stopped
}

TEST(IdleTimerTest, BusyOwnerRestartsTheWait) {
  Dispatcher d;
  int asked = 0;
  IdleTimer idle(d, [&] {
    if (++asked < 3) return false;  // busy twice, then idle
    d.Exit();
    return true;
  });
  idle.Start(Milliseconds(5));
  d.Run();
  EXPECT_EQ(asked, 3);
}

}  // namespace
}  // namespace weft::event
