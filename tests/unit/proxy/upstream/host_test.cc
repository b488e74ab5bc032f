#include "proxy/upstream/host.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "gtest/gtest.h"
#include "proxy/upstream/socket_address.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using testing::TestHost;

TEST(SocketAddressTest, ParsesAndFormatsIpv4AndIpv6) {
  auto v4 = ParseIpPort("192.168.1.2:8080");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->ss_family, AF_INET);
  EXPECT_EQ(FormatAddress(reinterpret_cast<const sockaddr*>(&*v4)), "192.168.1.2:8080");

  auto v6 = ParseIpPort("[::1]:53");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->ss_family, AF_INET6);
  EXPECT_EQ(SockaddrLength(*v6), sizeof(sockaddr_in6));
  EXPECT_EQ(FormatAddress(reinterpret_cast<const sockaddr*>(&*v6)), "[::1]:53");
}

TEST(SocketAddressTest, RefusesMalformedInput) {
  EXPECT_FALSE(ParseIpPort("10.0.0.1").ok());
  EXPECT_FALSE(ParseIpPort("10.0.0.1:99999").ok());
  EXPECT_FALSE(ParseIpPort("10.0.0.1:8x").ok());
  EXPECT_FALSE(ParseIpPort("::1:53").ok());  // IPv6 needs brackets
  EXPECT_FALSE(ParseIpPort("example.com:80").ok());
}

TEST(HostTest, ZeroWeightIsRaisedToOne) {
  EXPECT_EQ(TestHost(1, 0)->weight, 1u);
  EXPECT_EQ(TestHost(1, 7)->weight, 7u);
  EXPECT_EQ(TestHost(1)->address_string, "10.0.0.1:80");
}

TEST(HostSetTest, GroupsByPriorityAndLocality) {
  auto make = [](int i, uint32_t priority, std::string zone, uint32_t weight) {
    auto address = ParseIpAddress("10.1.0." + std::to_string(i), 80);
    return MakeHost(reinterpret_cast<const sockaddr*>(&*address), SockaddrLength(*address), "",
                    weight, Locality{"r", zone, ""}, priority, /*locality_weight=*/5);
  };
  auto set = HostSet::Create(
      {make(0, 0, "a", 1), make(1, 1, "a", 1), make(2, 0, "b", 3), make(3, 0, "a", 1)});
  ASSERT_EQ(set->priorities().size(), 2u);
  const PriorityHosts& p0 = set->primary();
  EXPECT_EQ(p0.hosts, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(p0.total_weight, 5u);
  EXPECT_FALSE(p0.equal_weights);
  ASSERT_EQ(p0.localities.size(), 2u);
  EXPECT_EQ(p0.localities[0].locality.zone, "a");
  EXPECT_EQ(p0.localities[0].hosts, (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(p0.localities[0].locality_weight, 5u);
  EXPECT_EQ(p0.localities[1].hosts, (std::vector<uint32_t>{2}));
  EXPECT_EQ(set->priorities()[1].hosts, (std::vector<uint32_t>{1}));
  EXPECT_TRUE(set->priorities()[1].equal_weights);
}

TEST(HostSetTest, EmptySetHasEmptyPrimary) {
  auto set = HostSet::Create({});
  EXPECT_TRUE(set->hosts().empty());
  EXPECT_TRUE(set->primary().hosts.empty());
}

TEST(HostSetTest, SameHostsAsComparesAddressesAndWeights) {
  auto a = HostSet::Create({TestHost(1), TestHost(2)});
  auto b = HostSet::Create({TestHost(1), TestHost(2)});
  auto reordered = HostSet::Create({TestHost(2), TestHost(1)});
  auto reweighted = HostSet::Create({TestHost(1), TestHost(2, 3)});
  EXPECT_TRUE(a->SameHostsAs(*b));
  EXPECT_FALSE(a->SameHostsAs(*reordered));
  EXPECT_FALSE(a->SameHostsAs(*reweighted));
  EXPECT_FALSE(a->SameHostsAs(*HostSet::Create({TestHost(1)})));
}

}  // namespace
}  // namespace weft::upstream
