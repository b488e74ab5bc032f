#include "network/address.h"

#include <gtest/gtest.h>

namespace weft::network {
namespace {

TEST(AddressTest, ParsesAndPrintsV4AndV6) {
  auto v4 = ParseAddress("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "127.0.0.1:8080");
  EXPECT_EQ(v4->port(), 8080);
  EXPECT_TRUE(v4->IsLoopback());
  auto v6 = ParseAddress("[::1]:443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "[::1]:443");
  EXPECT_EQ(v6->IpString(), "::1");
  EXPECT_TRUE(v6->IsLoopback());
  EXPECT_FALSE(ParseAddress("10.0.0.1:80")->IsLoopback());
}

TEST(AddressTest, RefusesWhatIsNotAnAddressNamingIt) {
  auto bad = MakeAddress("service1", 80);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("service1"), std::string::npos);
  EXPECT_FALSE(ParseAddress("127.0.0.1").ok());
  EXPECT_FALSE(ParseAddress("127.0.0.1:http").ok());
  EXPECT_FALSE(MakeAddress("127.0.0.1", 70000).ok());
}

}  // namespace
}  // namespace weft::network
