// proxy-status's per-type states from the cache's bookkeeping, fed as the ADS streams feed it.
#include "control/xds/sync_status.h"

#include <gtest/gtest.h>

#include "control/xds/snapshot_cache.h"

namespace weft::control::xds {
namespace {

SyncState StateOf(const SnapshotCache& cache, const std::string& node, const char* type) {
  auto status = cache.Status(node);
  if (!status) return SyncState::kNotSent;
  auto it = status->types.find(type);
  return it == status->types.end() ? SyncState::kNotSent : ComputeSyncState(it->second);
}

TEST(SyncStatusTest, NothingSentIsNotSent) {
  EXPECT_EQ(ComputeSyncState(TypeStatus{}), SyncState::kNotSent);
  EXPECT_EQ(SyncStateName(SyncState::kNotSent), "NOT SENT");
}

TEST(SyncStatusTest, SentThenAckedIsSynced) {
  SnapshotCache cache;
  cache.StreamOpened("n");
  cache.RecordSent("n", kClusterType, "v1", "1");
  EXPECT_EQ(StateOf(cache, "n", kClusterType), SyncState::kStale);
  cache.RecordAck("n", kClusterType, "v1");
  EXPECT_EQ(StateOf(cache, "n", kClusterType), SyncState::kSynced);
  EXPECT_EQ(SyncStateName(StateOf(cache, "n", kClusterType)), "SYNCED");
  // Another type of the same node is independent.
  EXPECT_EQ(StateOf(cache, "n", kListenerType), SyncState::kNotSent);
}

TEST(SyncStatusTest, NackOfTheLatestResponseIsNackedAndKeepsTheLastAck) {
  SnapshotCache cache;
  cache.RecordSent("n", kListenerType, "v1", "1");
  cache.RecordAck("n", kListenerType, "v1");
  cache.RecordSent("n", kListenerType, "v2", "2");
  cache.RecordNack("n", kListenerType, "v2", "cannot bind 127.0.0.1:9080");
  auto status = cache.Status("n");
  ASSERT_TRUE(status);
  const TypeStatus& t = status->types.at(kListenerType);
  EXPECT_EQ(ComputeSyncState(t), SyncState::kNacked);
  EXPECT_EQ(t.nack_error, "cannot bind 127.0.0.1:9080");
  EXPECT_EQ(t.acked_version, "v1");  // the proxy still runs v1

  // A newer push awaits its answer: STALE, not NACKED.
  cache.RecordSent("n", kListenerType, "v3", "3");
  EXPECT_EQ(StateOf(cache, "n", kListenerType), SyncState::kStale);
  // Its ACK clears the NACK.
  cache.RecordAck("n", kListenerType, "v3");
  EXPECT_EQ(StateOf(cache, "n", kListenerType), SyncState::kSynced);
  EXPECT_TRUE(cache.Status("n")->types.at(kListenerType).nack_error.empty());
  // The history stays for proxy-status's details.
  EXPECT_EQ(cache.Status("n")->types.at(kListenerType).last_nack_error,
            "cannot bind 127.0.0.1:9080");
  EXPECT_EQ(cache.Status("n")->types.at(kListenerType).last_nack_version, "v2");
}

TEST(SyncStatusTest, ShortTypeNames) {
  EXPECT_EQ(ShortTypeName(kClusterType), "CDS");
  EXPECT_EQ(ShortTypeName(kEndpointType), "EDS");
  EXPECT_EQ(ShortTypeName(kListenerType), "LDS");
  EXPECT_EQ(ShortTypeName(kRouteType), "RDS");
  EXPECT_EQ(ShortTypeName("type.googleapis.com/x.Y"), "type.googleapis.com/x.Y");
}

}  // namespace
}  // namespace weft::control::xds
