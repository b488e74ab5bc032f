#include "network/connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace weft::network {
namespace {

class Recorder : public ConnectionCallbacks {
 public:
  void OnData(Buffer& data, bool end_stream) override {
    received += data.view();
    data.Drain(data.length());
    eof = eof || end_stream;
  }
  void OnEvent(ConnectionEvent event) override { events.push_back(event); }
  std::string received;
  bool eof = false;
  std::vector<ConnectionEvent> events;
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Two owners may both ask for a flushing close (the codec after the last response, then the
// connection manager): the second must not cut the pending bytes short.
TEST(ConnectionTest, RepeatedFlushingCloseStillDeliversEverything) {
  event::Dispatcher d;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto conn = std::make_unique<Connection>(d, fds[0], 1 << 20);
  Recorder rec;
  conn->SetCallbacks(&rec);
  std::string payload(300000, 'x');  // more than a socketpair buffers at once
  conn->Write(payload, false);
  conn->Close(Connection::CloseType::kFlushWrite);
  conn->Close(Connection::CloseType::kFlushWrite);
  std::string got;
  // Read the peer side a little at a time, as a slow client would, until the proxy closes.
  std::unique_ptr<event::Timer> drain;
  std::function<void()> pump = [&] {
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[1], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
    if (n == 0) {
      d.Exit();
      return;
    }
    drain->Enable(event::Milliseconds(1));
  };
  drain = d.CreateTimer([&] { pump(); });
  drain->Enable(event::Milliseconds(1));
  d.Run();
  EXPECT_EQ(got.size(), payload.size());
  ASSERT_FALSE(rec.events.empty());
  EXPECT_EQ(rec.events.back(), ConnectionEvent::kLocalClose);
  close(fds[1]);
}

TEST(ConnectionTest, WritesInOneIterationLeaveTogetherAndHalfCloseIsSeen) {
  event::Dispatcher d;
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  auto conn = std::make_unique<Connection>(d, fds[0], 1 << 20);
  Recorder rec;
  conn->SetCallbacks(&rec);
  conn->Write("head;", false);
  conn->Write("body", true);  // end_stream: shutdown(SHUT_WR) after the bytes
  ASSERT_EQ(write(fds[1], "ping", 4), 4);
  shutdown(fds[1], SHUT_WR);
  auto stop = d.CreateTimer([&] { d.Exit(); });
  stop->Enable(event::Milliseconds(50));
  d.Run();
  EXPECT_EQ(ReadAll(fds[1]), "head;body");
  EXPECT_EQ(rec.received, "ping");
  EXPECT_TRUE(rec.eof);
  close(fds[1]);
}

}  // namespace
}  // namespace weft::network
