#include "control/store/sqlite_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace weft::control {
namespace {

using nlohmann::json;

json Object(const std::string& ns, const std::string& name, int weight = 1) {
  return {{"apiVersion", "networking.istio.io/v1"},
          {"kind", "VirtualService"},
          {"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"hosts", {"h"}}, {"weight", weight}}}};
}

int64_t Rv(const json& object) {
  return std::stoll(object["metadata"]["resourceVersion"].get<std::string>());
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-store-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/weft.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<SqliteStore> Open(SqliteStoreOptions options = {}) {
    auto store = SqliteStore::Open(path_, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, CreateGetListDeleteWithOneGlobalRevision) {
  auto store = Open();
  EXPECT_EQ(store->Revision(), 0);
  auto a = store->Create(Object("default", "a"));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = store->Create(Object("other", "b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Rv(*a), 1);
  EXPECT_EQ(Rv(*b), 2);
  EXPECT_EQ(store->Revision(), 2);

  auto got = store->Get({"VirtualService", "default", "a"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["spec"]["weight"], 1);
  EXPECT_TRUE(absl::IsNotFound(store->Get({"VirtualService", "default", "b"}).status()));
  EXPECT_TRUE(absl::IsNotFound(store->Get({"DestinationRule", "default", "a"}).status()));

  auto all = store->List({"VirtualService", ""});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0]["metadata"]["name"], "a");
  EXPECT_EQ(all->revision, 2);
  EXPECT_EQ(store->List({"VirtualService", "other"})->items.size(), 1u);

  auto deleted = store->Delete({"VirtualService", "default", "a"}, 0);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(Rv(*deleted), 3);
  EXPECT_TRUE(absl::IsNotFound(store->Get({"VirtualService", "default", "a"}).status()));
  EXPECT_TRUE(absl::IsNotFound(store->Delete({"VirtualService", "default", "a"}, 0).status()));
}

TEST_F(SqliteStoreTest, CreateOfAnExistingNameIsRefused) {
  auto store = Open();
  ASSERT_TRUE(store->Create(Object("default", "a")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store->Create(Object("default", "a")).status()));
  EXPECT_EQ(store->Revision(), 1);  // nothing written
}

TEST_F(SqliteStoreTest, StaleResourceVersionIsAConflict) {
  auto store = Open();
  auto a = store->Create(Object("default", "a"));
  auto updated = store->Update(Object("default", "a", 2), Rv(*a));
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(Rv(*updated), 2);
  // A writer that still holds revision 1 loses.
  auto stale = store->Update(Object("default", "a", 3), Rv(*a));
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_TRUE(absl::IsAborted(store->Delete({"VirtualService", "default", "a"}, 1).status()));
  EXPECT_EQ((*store->Get({"VirtualService", "default", "a"}))["spec"]["weight"], 2);
  // Unconditional update, and update of an absent object.
  EXPECT_TRUE(store->Update(Object("default", "a", 4), 0).ok());
  EXPECT_TRUE(absl::IsNotFound(store->Update(Object("default", "zz"), 0).status()));
}

TEST_F(SqliteStoreTest, EverythingSurvivesReopening) {
  {
    auto store = Open();
    store->Create(Object("default", "a")).IgnoreError();
    store->Create(Object("default", "b")).IgnoreError();
    store->Delete({"VirtualService", "default", "a"}, 0).IgnoreError();
  }
  auto store = Open();
  EXPECT_EQ(store->Revision(), 3);
  EXPECT_EQ(store->List({"VirtualService", ""})->items.size(), 1u);
  auto c = store->Create(Object("default", "c"));
  EXPECT_EQ(Rv(*c), 4);
}

TEST_F(SqliteStoreTest, ASecondOpenOfTheSameFileIsRefused) {
  auto store = Open();
  auto second = SqliteStore::Open(path_);
  EXPECT_FALSE(second.ok());
}

TEST_F(SqliteStoreTest, WatchReplaysFromARevisionThenFollowsInOrder) {
  auto store = Open();
  store->Create(Object("default", "a")).IgnoreError();        // 1
  store->Create(Object("default", "b")).IgnoreError();        // 2
  store->Update(Object("default", "a", 5), 0).IgnoreError();  // 3
  json dr = Object("default", "a");
  dr["kind"] = "DestinationRule";
  store->Create(dr).IgnoreError();  // 4: other kind
  std::vector<std::pair<std::string, int64_t>> seen;
  auto id = store->Watch({"VirtualService", "default"}, 1, [&](const WatchEvent& e) {
    seen.emplace_back(
        std::string(EventTypeName(e.type)) + " " + e.object["metadata"]["name"].get<std::string>(),
        e.revision);
  });
  ASSERT_TRUE(id.ok());
  store->Delete({"VirtualService", "default", "b"}, 0).IgnoreError();  // 5
  store->Create(Object("other", "c")).IgnoreError();                   // 6: other namespace
  std::vector<std::pair<std::string, int64_t>> want = {
      {"ADDED b", 2}, {"MODIFIED a", 3}, {"DELETED b", 5}};
  EXPECT_EQ(seen, want);
  store->Unwatch(*id);
  store->Create(Object("default", "d")).IgnoreError();
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(SqliteStoreTest, WatchFromACompactedRevisionIsOutOfRange) {
  auto store = Open(SqliteStoreOptions{.retained_changes = 10});
  for (int i = 0; i < 30; ++i) store->Update(Object("default", "a", i), 0).IgnoreError();
  store->Create(Object("default", "a")).IgnoreError();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store->Update(Object("default", "a", i), 0).ok());
  EXPECT_GT(store->compacted_revision(), 0);
  auto old = store->Watch({"VirtualService", ""}, 0, [](const WatchEvent&) {});
  EXPECT_TRUE(absl::IsOutOfRange(old.status())) << old.status();
  int events = 0;
  auto recent = store->Watch({"VirtualService", ""}, store->Revision() - 5,
                             [&](const WatchEvent&) { ++events; });
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(events, 5);
}

}  // namespace
}  // namespace weft::control
