#include "proxy/upstream/maglev_lb.h"

#include <map>

#include "gtest/gtest.h"
#include "proxy/upstream/hash.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using testing::EqualHostSet;
using testing::TestHostSet;

std::shared_ptr<const MaglevTable> Table(const HostSet& hosts, uint64_t size = 65537) {
  auto table = MaglevTable::Build(hosts, size);
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

TEST(MaglevTest, RefusesNonPrimeTableSize) {
  EXPECT_FALSE(MaglevTable::Build(*EqualHostSet(2), 65536).ok());
  EXPECT_FALSE(MaglevTable::Build(*EqualHostSet(2), 1).ok());
  EXPECT_TRUE(MaglevTable::Build(*EqualHostSet(2), 251).ok());
  EXPECT_TRUE(IsPrime(65537));
  EXPECT_FALSE(IsPrime(65535));
}

TEST(MaglevTest, EqualWeightsFillTheTableEvenly) {
  const int n = 7;
  auto table = Table(*EqualHostSet(n));
  std::map<uint32_t, int> counts;
  for (uint32_t owner : table->slots()) ++counts[owner];
  ASSERT_EQ(counts.size(), static_cast<size_t>(n));
  const double ideal = 65537.0 / n;
  for (auto& [host, count] : counts) {
    EXPECT_NEAR(count, ideal, ideal * 0.02) << "host " << host;
  }
}

TEST(MaglevTest, WeightsGiveProportionalShares) {
  auto table = Table(*TestHostSet({1, 2, 5}));
  std::map<uint32_t, int> counts;
  for (uint32_t owner : table->slots()) ++counts[owner];
  EXPECT_NEAR(counts[0] / 65537.0, 1.0 / 8, 0.01);
  EXPECT_NEAR(counts[1] / 65537.0, 2.0 / 8, 0.01);
  EXPECT_NEAR(counts[2] / 65537.0, 5.0 / 8, 0.01);
}

TEST(MaglevTest, SameHashSameHostAcrossIndependentBuilds) {
  auto a = Table(*EqualHostSet(5));
  auto b = Table(*EqualHostSet(5));
  EXPECT_EQ(a->slots(), b->slots());
  FastRandom random(1);
  MaglevLoadBalancer lb(a, random);
  LbContext context{HashKey("session-42")};
  int host = lb.ChooseHost(context);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lb.ChooseHost(context), host);
}

TEST(MaglevTest, AddingAHostMovesAboutOneNthOfKeys) {
  const int n = 10;
  auto before = Table(*EqualHostSet(n));
  auto after = Table(*EqualHostSet(n + 1));
  int moved = 0;
  for (size_t slot = 0; slot < before->slots().size(); ++slot) {
    if (before->slots()[slot] != after->slots()[slot]) ++moved;
  }
  // Ideal 1/11 of the slots; Maglev trades a little extra disruption for balance.
  const double fraction = static_cast<double>(moved) / before->slots().size();
  EXPECT_GT(fraction, 1.0 / 30);
  EXPECT_LT(fraction, 0.2);
}

TEST(MaglevTest, EmptyHostSetReturnsMinusOne) {
  FakeRandom random;
  MaglevLoadBalancer lb(Table(*HostSet::Create({})), random);
  EXPECT_EQ(lb.ChooseHost({}), -1);
}

}  // namespace
}  // namespace weft::upstream
