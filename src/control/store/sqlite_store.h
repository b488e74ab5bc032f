// The embedded store: one SQLite file (Debian's libsqlite3) in weftd's data directory.
//
// On disk (see docs/user-guide/weftd.md, "Store"):
//   objects(kind, namespace, name, revision, object)   the current objects, JSON text
//   changes(revision, type, kind, namespace, name, object)   the change log watches replay
//   meta(key, value)   'revision' (last write) and 'compacted' (changes at or below are gone)
// Each write is one transaction that updates all three, so the log and the objects never
// disagree. WAL journal with synchronous=FULL: a commit returns only after the WAL is fsync'd,
// so every write acknowledged to a client survives kill -9 and power loss. The database is
// opened with an exclusive lock: a second weftd on the same directory is refused.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "control/store/store.h"

struct sqlite3;

namespace weft::control {

struct SqliteStoreOptions {
  // Changes kept for watches to resume from; older ones are deleted (a watch from before them
  // gets 410 Expired, as from a compacted etcd). Kubernetes' apiserver keeps ~5 minutes.
  int64_t retained_changes = 10000;
};

class SqliteStore : public Store {
 public:
  // Opens (creating if needed) the database file at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           SqliteStoreOptions options = {});
  ~SqliteStore() override;

  absl::StatusOr<nlohmann::json> Create(nlohmann::json object) override;
  absl::StatusOr<nlohmann::json> Update(nlohmann::json object, int64_t expected_revision) override;
  absl::StatusOr<nlohmann::json> Delete(const ResourceKey& key, int64_t expected_revision) override;
  absl::StatusOr<nlohmann::json> Get(const ResourceKey& key) override;
  absl::StatusOr<ListResult> List(const Selector& selector) override;
  int64_t Revision() const override { return revision_; }
  absl::StatusOr<WatchId> Watch(const Selector& selector, int64_t after_revision,
                                WatchCallback callback) override;
  void Unwatch(WatchId id) override;

  int64_t compacted_revision() const { return compacted_; }

 private:
  class Statement;
  SqliteStore(sqlite3* db, SqliteStoreOptions options);
  absl::Status Init();
  absl::Status Exec(const char* sql);
  // Looks up the stored revision and object; NotFound if absent.
  absl::StatusOr<std::pair<int64_t, nlohmann::json>> Load(const ResourceKey& key);
  // Writes one change (the object row and the log row) in its own durable transaction and
  // tells the watchers.
  absl::StatusOr<nlohmann::json> Commit(EventType type, const ResourceKey& key,
                                        int64_t expected_revision, nlohmann::json object);
  absl::Status Compact();
  void Notify(const WatchEvent& event, const ResourceKey& key);

  sqlite3* db_;
  SqliteStoreOptions options_;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;
  struct Watcher {
    Selector selector;
    WatchCallback callback;
  };
  std::map<WatchId, Watcher> watchers_;
  WatchId next_watch_id_ = 1;
};

}  // namespace weft::control
