#include "proxy/server/listener_handoff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weft::proxy {
namespace {

struct Candidate {
  std::string name;
  network::Address address;
};

network::Address Addr(const char* ip, uint32_t port) { return *network::MakeAddress(ip, port); }

std::string Pick(std::vector<Candidate>& candidates, const char* ip, uint32_t port) {
  const Candidate* c =
      SelectHandoffTarget(candidates, Addr(ip, port),
                          [](const Candidate& c) -> const network::Address& { return c.address; });
  return c ? c->name : "<keep>";
}

TEST(ListenerHandoffTest, ExactAddressThenWildcardPortThenKeep) {
  // Istio's outbound layout: service ports on 0.0.0.0, TCP services on their VIP.
  std::vector<Candidate> listeners = {
      {"virtualOutbound", Addr("0.0.0.0", 15001)},
      {"0.0.0.0_9080", Addr("0.0.0.0", 9080)},
      {"240.240.0.3_9080", Addr("240.240.0.3", 9080)},
      {"127.0.0.6_9000", Addr("127.0.0.6", 9000)},
      {"[::]_9080", Addr("::", 9080)},
  };
  EXPECT_EQ(Pick(listeners, "240.240.0.3", 9080), "240.240.0.3_9080");  // exact beats wildcard
  EXPECT_EQ(Pick(listeners, "240.240.0.4", 9080), "0.0.0.0_9080");
  EXPECT_EQ(Pick(listeners, "127.0.0.6", 9000), "127.0.0.6_9000");
  EXPECT_EQ(Pick(listeners, "127.0.0.7", 9000), "<keep>");  // no exact, no wildcard on 9000
  EXPECT_EQ(Pick(listeners, "10.0.0.1", 443), "<keep>");
  // The family decides which wildcard: a v6 destination never lands on 0.0.0.0.
  EXPECT_EQ(Pick(listeners, "fd00::1", 9080), "[::]_9080");
  EXPECT_EQ(Pick(listeners, "fd00::1", 9000), "<keep>");
}

TEST(ListenerHandoffTest, ExactMatchFoundAfterTheWildcard) {
  std::vector<Candidate> listeners = {
      {"wild", Addr("0.0.0.0", 80)},
      {"exact", Addr("10.1.2.3", 80)},
  };
  EXPECT_EQ(Pick(listeners, "10.1.2.3", 80), "exact");
  EXPECT_EQ(Pick(listeners, "10.1.2.4", 80), "wild");
}

TEST(ListenerHandoffTest, WildcardAddresses) {
  EXPECT_TRUE(IsWildcardAddress(Addr("0.0.0.0", 1)));
  EXPECT_TRUE(IsWildcardAddress(Addr("::", 1)));
  EXPECT_FALSE(IsWildcardAddress(Addr("127.0.0.1", 1)));
  EXPECT_FALSE(IsWildcardAddress(Addr("::1", 1)));
}

}  // namespace
}  // namespace weft::proxy
