#include "proxy/upstream/original_dst_cluster.h"

#include "gtest/gtest.h"
#include "proxy/upstream/socket_address.h"

namespace weft::upstream {
namespace {

using namespace std::chrono_literals;

HostConstSharedPtr Get(OriginalDstHostMap& map, const char* ip_port) {
  auto address = ParseIpPort(ip_port);
  EXPECT_TRUE(address.ok());
  return map.GetOrCreate(reinterpret_cast<const sockaddr*>(&*address), SockaddrLength(*address));
}

TEST(OriginalDstTest, SameDestinationSameHost) {
  event::Dispatcher dispatcher;
  OriginalDstHostMap map(dispatcher, 1h);
  auto a = Get(map, "10.0.0.1:80");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->address_string, "10.0.0.1:80");
  EXPECT_EQ(Get(map, "10.0.0.1:80"), a);
  EXPECT_NE(Get(map, "10.0.0.1:81"), a);  // the port is part of the destination
  EXPECT_EQ(Get(map, "[fd00::1]:80")->address_string, "[fd00::1]:80");
  EXPECT_EQ(map.size(), 3u);
}

TEST(OriginalDstTest, SweepDropsHostsUnusedSinceTheLastSweep) {
  event::Dispatcher dispatcher;
  OriginalDstHostMap map(dispatcher, 1h);
  auto kept = Get(map, "10.0.0.1:80");
  Get(map, "10.0.0.2:80");
  map.Sweep();  // both were used since creation
  EXPECT_EQ(map.size(), 2u);
  Get(map, "10.0.0.1:80");
  map.Sweep();  // 10.0.0.2 was not asked for since the previous sweep
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(Get(map, "10.0.0.1:80"), kept);
  map.Sweep();
  map.Sweep();
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(kept->address_string, "10.0.0.1:80");  // a connection's reference stays valid
}

TEST(OriginalDstTest, TimerSweepsEveryCleanupInterval) {
  event::Dispatcher dispatcher;
  OriginalDstHostMap map(dispatcher, 10ms);
  Get(map, "10.0.0.1:80");
  std::unique_ptr<event::Timer> check;
  check = dispatcher.CreateTimer([&] {
    if (map.size() == 0) {
      dispatcher.Exit();
    } else {
      check->Enable(5ms);
    }
  });
  check->Enable(5ms);
  auto guard = dispatcher.CreateTimer([&] { dispatcher.Exit(); });
  guard->Enable(10s);
  dispatcher.Run();
  EXPECT_EQ(map.size(), 0u);
}

TEST(OriginalDstTest, RefusesNonIpAddresses) {
  event::Dispatcher dispatcher;
  OriginalDstHostMap map(dispatcher, 1h);
  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  EXPECT_EQ(map.GetOrCreate(&unix_address, sizeof(unix_address)), nullptr);
}

}  // namespace
}  // namespace weft::upstream
