#include "proxy/upstream/ring_hash_lb.h"

#include <map>

#include "gtest/gtest.h"
#include "proxy/upstream/hash.h"
#include "unit/proxy/upstream/test_hosts.h"

namespace weft::upstream {
namespace {

using testing::EqualHostSet;
using testing::TestHostSet;

std::shared_ptr<const RingHashTable> Ring(const HostSet& hosts, RingHashConfig config = {}) {
  auto ring = RingHashTable::Build(hosts, config);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return *ring;
}

TEST(RingHashTest, SameHashSameHost) {
  auto hosts = EqualHostSet(5);
  auto ring = Ring(*hosts);
  FastRandom random(1);
  RingHashLoadBalancer worker_a(ring, random);
  RingHashLoadBalancer worker_b(Ring(*EqualHostSet(5)), random);  // built independently
  for (int i = 0; i < 200; ++i) {
    LbContext context{HashKey("user-" + std::to_string(i))};
    int host = worker_a.ChooseHost(context);
    ASSERT_GE(host, 0);
    EXPECT_EQ(worker_a.ChooseHost(context), host);
    EXPECT_EQ(worker_b.ChooseHost(context), host);
  }
}

TEST(RingHashTest, RingSizeRespectsMinimumAndMaximum) {
  EXPECT_EQ(Ring(*EqualHostSet(4), {1024, 8388608})->size(), 1024u);
  // The lightest host (1/10 of the weight) gets >= 1/10 of the minimum size.
  auto weighted = Ring(*TestHostSet({1, 9}), {1000, 8388608});
  EXPECT_EQ(weighted->size(), 1000u);
  EXPECT_EQ(Ring(*TestHostSet({1, 9999}), {1024, 4096})->size(), 4096u);  // capped
  EXPECT_FALSE(RingHashTable::Build(*EqualHostSet(2), {100, 10}).ok());
}

TEST(RingHashTest, KeysSpreadByWeight) {
  auto ring = Ring(*TestHostSet({1, 3}), {4096, 8388608});
  std::map<int, int> counts;
  for (int i = 0; i < 20000; ++i) ++counts[ring->Lookup(HashKey("k" + std::to_string(i)))];
  EXPECT_NEAR(counts[1] / 20000.0, 0.75, 0.05);
}

TEST(RingHashTest, AddingAHostMovesAboutOneNthOfKeys) {
  const int n = 10;
  auto before = Ring(*EqualHostSet(n));
  auto after = Ring(*EqualHostSet(n + 1));  // hosts 0..9 unchanged, host 10 added
  const int keys = 20000;
  int moved = 0;
  for (int i = 0; i < keys; ++i) {
    uint64_t hash = HashKey("key-" + std::to_string(i));
    int a = before->Lookup(hash);
    int b = after->Lookup(hash);
    if (a != b) ++moved;
  }
  // Ideal is 1/11 (~9%). The ring keeps its total size (minimum_ring_size), so each old host
  // also gives up ~1/11 of its points and their keys move to a neighbour: ~2/N in all (17% here,
  // as with Envoy's sizing). The bound is generous; a non-consistent hash would move ~90%.
  EXPECT_GT(moved, keys / 30);
  EXPECT_LT(moved, keys / 4);
}

TEST(RingHashTest, WithoutHashPicksARandomPoint) {
  auto ring = Ring(*EqualHostSet(3));
  FakeRandom random({0, ~0ULL});
  RingHashLoadBalancer lb(ring, random);
  EXPECT_EQ(lb.ChooseHost({}), ring->Lookup(0));
  EXPECT_EQ(lb.ChooseHost({}), ring->Lookup(~0ULL));
  EXPECT_EQ(Ring(*HostSet::Create({}))->Lookup(1), -1);
}

}  // namespace
}  // namespace weft::upstream
