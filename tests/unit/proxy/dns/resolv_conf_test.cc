#include "proxy/dns/resolv_conf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace weft::dns {
namespace {

TEST(ResolvConfTest, NameserverLinesOnly) {
  char path[] = "/tmp/weft-resolv-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "# a pod's resolv.conf\n"
                         "search default.svc.cluster.local svc.cluster.local cluster.local\n"
                         "nameserver 10.250.0.1\n"
                         "nameserver   fe80::1%eth0\n"
                         "nameserver not-an-address\n"
                         "options ndots:5\n";
  auto servers = ReadNameservers(path);
  unlink(path);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[0].ToString(), "10.250.0.1:53");
  EXPECT_EQ(servers[1].ToString(), "[fe80::1]:53");
  EXPECT_TRUE(ReadNameservers("/nonexistent/resolv.conf").empty());
}

TEST(ResolvConfTest, PathFromTheEnvironment) {
  unsetenv("WEFT_RESOLV_CONF");
  EXPECT_EQ(ResolvConfPath(), "/etc/resolv.conf");
  setenv("WEFT_RESOLV_CONF", "/tmp/x.conf", 1);
  EXPECT_EQ(ResolvConfPath(), "/tmp/x.conf");
  unsetenv("WEFT_RESOLV_CONF");
}

}  // namespace
}  // namespace weft::dns
