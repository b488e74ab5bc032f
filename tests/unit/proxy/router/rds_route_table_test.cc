#include "proxy/router/rds_route_table.h"

#include <gtest/gtest.h>

namespace weft::router {
namespace {

std::shared_ptr<const RouteTable> TableNamed(const std::string& name) {
  auto config = std::make_shared<RouteConfiguration>();
  config->name = name;
  auto table = RouteTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

TEST(RdsRouteTableTest, EverySlotStartsAtTheGivenTable) {
  auto v1 = TableNamed("v1");
  RdsRouteTable rds("routes", 3, v1);
  EXPECT_EQ(rds.name(), "routes");
  ASSERT_EQ(rds.workers(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(rds.Current(i).get(), v1.get());
}

TEST(RdsRouteTableTest, SetSwapsOneWorkersTableAndPinnedStreamsKeepTheOld) {
  auto v1 = TableNamed("v1");
  RdsRouteTable rds("routes", 2, v1);
  std::weak_ptr<const RouteTable> v1_alive = v1;
  // A stream on worker 0 pins the table it started with.
  std::shared_ptr<const RouteTable> pinned = rds.Current(0);
  v1.reset();

  rds.Set(0, TableNamed("v2"));
  EXPECT_EQ(rds.Current(0)->config().name, "v2");
  EXPECT_EQ(rds.Current(1)->config().name, "v1");  // worker 1 has not run its post yet
  EXPECT_EQ(pinned->config().name, "v1");

  rds.Set(1, rds.Current(0));
  EXPECT_EQ(rds.Current(1)->config().name, "v2");
  EXPECT_FALSE(v1_alive.expired()) << "the pinned stream still routes by v1";
  pinned.reset();
  EXPECT_TRUE(v1_alive.expired()) << "nothing holds v1 any more";
}

TEST(RdsRouteTableTest, EachWorkerCountsOnItsOwnControlBlock) {
  RdsRouteTable rds("routes", 2, TableNamed("v1"));
  // Same table, distinct owners: a stream's copy on worker 0 does not touch worker 1's count.
  EXPECT_EQ(rds.Current(0).get(), rds.Current(1).get());
  EXPECT_TRUE(rds.Current(0).owner_before(rds.Current(1)) ||
              rds.Current(1).owner_before(rds.Current(0)));
  std::shared_ptr<const RouteTable> stream_copy = rds.Current(0);
  EXPECT_EQ(rds.Current(0).use_count(), 2);
  EXPECT_EQ(rds.Current(1).use_count(), 1);
}

}  // namespace
}  // namespace weft::router
