#include "control/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"

namespace weft::control {
namespace {

using nlohmann::json;

absl::Status SqliteError(sqlite3* db, std::string_view what) {
  return absl::InternalError(absl::StrCat("sqlite: ", std::string(what), ": ", sqlite3_errmsg(db)));
}

std::string KeyString(const ResourceKey& key) {
  return absl::StrCat(key.kind, " ", key.ns, "/", key.name);
}

void SetResourceVersion(json& object, int64_t revision) {
  object["metadata"]["resourceVersion"] = std::to_string(revision);
}

}  // namespace

// A prepared statement, finalized on scope exit. Binds are 1-based, as SQLite counts them.
class SqliteStore::Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, int64_t value) {
    sqlite3_bind_int64(stmt_, i, value);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, column)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               SqliteStoreOptions options) {
  if (path != ":memory:" && path.rfind("file:", 0) != 0) {
    // The store holds Secrets (private keys, base64 only): owner-only, like the CA's key. The
    // file is made 0600 before SQLite opens it (and an older, wider one is narrowed); SQLite
    // gives its -wal and -shm files the database file's mode (unix VFS, findCreateFileMode).
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
    const int chmod_result = ::fchmod(fd, 0600);
    ::close(fd);
    if (chmod_result != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot make ", path, " 0600: ", std::strerror(errno)));
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    absl::Status st = absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, options));
  RETURN_IF_ERROR(store->Init());
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, SqliteStoreOptions options) : db_(db), options_(options) {}

SqliteStore::~SqliteStore() { sqlite3_close(db_); }

absl::Status SqliteStore::Exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status st = absl::InternalError(absl::StrCat("sqlite: ", sql, ": ", error ? error : ""));
    sqlite3_free(error);
    return st;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Init() {
  // Exclusive locking first, so WAL needs no shared-memory file and another process cannot
  // open the database behind our back (the lock is taken by the first transaction below).
  RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE"));
  RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
  // FULL: the WAL is fsync'd at every commit (sqlite.org/pragma.html#pragma_synchronous; in WAL
  // mode NORMAL would only sync at checkpoints and could lose the last commits on power loss).
  RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
  sqlite3_busy_timeout(db_, 0);
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("the store is locked (is another weftd using this data directory?): ",
                     sqlite3_errmsg(db_)));
  }
  absl::Status st = Exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS objects(kind TEXT NOT NULL, namespace TEXT NOT NULL,"
      "  name TEXT NOT NULL, revision INTEGER NOT NULL, object TEXT NOT NULL,"
      "  PRIMARY KEY(kind, namespace, name)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS changes(revision INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
      "  kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, object TEXT NOT NULL);"
      "INSERT OR IGNORE INTO meta VALUES('revision', 0), ('compacted', 0);");
  if (st.ok()) st = Exec("COMMIT");
  if (!st.ok()) {
    Exec("ROLLBACK").IgnoreError();
    return st;
  }
  Statement meta(db_, "SELECT key, value FROM meta");
  while (meta.Step() == SQLITE_ROW) {
    std::string key = meta.Text(0);
    if (key == "revision") revision_ = meta.Int(1);
    if (key == "compacted") compacted_ = meta.Int(1);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<int64_t, json>> SqliteStore::Load(const ResourceKey& key) {
  Statement get(db_,
                "SELECT revision, object FROM objects WHERE kind=?1 AND namespace=?2 AND name=?3");
  if (!get.ok()) return SqliteError(db_, "prepare");
  get.Bind(1, key.kind).Bind(2, key.ns).Bind(3, key.name);
  int rc = get.Step();
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat(KeyString(key), " not found"));
  if (rc != SQLITE_ROW) return SqliteError(db_, "select");
  json object = json::parse(get.Text(1), nullptr, false);
  if (object.is_discarded()) return absl::DataLossError("stored object is not JSON");
  return std::make_pair(get.Int(0), std::move(object));
}

absl::StatusOr<json> SqliteStore::Commit(EventType type, const ResourceKey& key,
                                         int64_t expected_revision, json object) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  // Every early return below must roll back.
  auto fail = [this](absl::Status st) {
    Exec("ROLLBACK").IgnoreError();
    return st;
  };
  absl::StatusOr<std::pair<int64_t, json>> current = Load(key);
  if (!current.ok() && !absl::IsNotFound(current.status())) return fail(current.status());
  if (type == EventType::kAdded && current.ok()) {
    return fail(absl::AlreadyExistsError(absl::StrCat(KeyString(key), " already exists")));
  }
  if (type != EventType::kAdded) {
    if (!current.ok()) return fail(current.status());
    if (expected_revision != 0 && current->first != expected_revision) {
      return fail(absl::AbortedError(absl::StrCat(
          "the object has been modified; please apply your changes to the latest version and "
          "try again (resourceVersion ",
          expected_revision, " is stale, the object is at ", current->first, ")")));
    }
  }
  const int64_t revision = revision_ + 1;
  if (type == EventType::kDeleted) object = std::move(current->second);
  SetResourceVersion(object, revision);
  const std::string text = object.dump();

  Statement write(db_, type == EventType::kDeleted
                           ? "DELETE FROM objects WHERE kind=?1 AND namespace=?2 AND name=?3"
                           : "INSERT OR REPLACE INTO objects VALUES(?1, ?2, ?3, ?4, ?5)");
  write.Bind(1, key.kind).Bind(2, key.ns).Bind(3, key.name);
  if (type != EventType::kDeleted) write.Bind(4, revision).Bind(5, text);
  if (write.Step() != SQLITE_DONE) return fail(SqliteError(db_, "write object"));
  Statement log(db_, "INSERT INTO changes VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  log.Bind(1, revision).Bind(2, static_cast<int64_t>(type)).Bind(3, key.kind).Bind(4, key.ns);
  log.Bind(5, key.name).Bind(6, text);
  if (log.Step() != SQLITE_DONE) return fail(SqliteError(db_, "write change"));
  Statement meta(db_, "UPDATE meta SET value=?1 WHERE key='revision'");
  meta.Bind(1, revision);
  if (meta.Step() != SQLITE_DONE) return fail(SqliteError(db_, "write revision"));
  // The COMMIT is the durability point: it returns after the WAL is fsync'd.
  if (absl::Status st = Exec("COMMIT"); !st.ok()) return fail(st);
  revision_ = revision;

  if (revision_ - compacted_ > options_.retained_changes + options_.retained_changes / 10) {
    // Best effort: a failed compaction only leaves a longer log.
    Compact().IgnoreError();
  }
  Notify(WatchEvent{type, revision, object}, key);
  return object;
}

absl::Status SqliteStore::Compact() {
  const int64_t upto = revision_ - options_.retained_changes;
  if (upto <= compacted_) return absl::OkStatus();
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Statement drop(db_, "DELETE FROM changes WHERE revision <= ?1");
  drop.Bind(1, upto);
  Statement meta(db_, "UPDATE meta SET value=?1 WHERE key='compacted'");
  meta.Bind(1, upto);
  if (drop.Step() != SQLITE_DONE || meta.Step() != SQLITE_DONE) {
    absl::Status st = SqliteError(db_, "compact");
    Exec("ROLLBACK").IgnoreError();
    return st;
  }
  RETURN_IF_ERROR(Exec("COMMIT"));
  compacted_ = upto;
  return absl::OkStatus();
}

void SqliteStore::Notify(const WatchEvent& event, const ResourceKey& key) {
  // A callback may Unwatch (itself or another): walk a snapshot of the ids.
  std::vector<WatchId> ids;
  ids.reserve(watchers_.size());
  for (const auto& [id, w] : watchers_) ids.push_back(id);
  for (WatchId id : ids) {
    auto it = watchers_.find(id);
    if (it == watchers_.end() || !it->second.selector.Matches(key)) continue;
    WatchCallback callback = it->second.callback;  // survives an Unwatch from inside it
    callback(event);
  }
}

absl::StatusOr<json> SqliteStore::Create(json object) {
  ResourceKey key = KeyOf(object);
  return Commit(EventType::kAdded, key, 0, std::move(object));
}

absl::StatusOr<json> SqliteStore::Update(json object, int64_t expected_revision) {
  ResourceKey key = KeyOf(object);
  return Commit(EventType::kModified, key, expected_revision, std::move(object));
}

absl::StatusOr<json> SqliteStore::Delete(const ResourceKey& key, int64_t expected_revision) {
  return Commit(EventType::kDeleted, key, expected_revision, json());
}

absl::StatusOr<json> SqliteStore::Get(const ResourceKey& key) {
  ASSIGN_OR_RETURN(auto current, Load(key));
  return std::move(current.second);
}

absl::StatusOr<ListResult> SqliteStore::List(const Selector& selector) {
  Statement list(db_, selector.ns.empty()
                          ? "SELECT object FROM objects WHERE kind=?1 ORDER BY namespace, name"
                          : "SELECT object FROM objects WHERE kind=?1 AND namespace=?2 "
                            "ORDER BY name");
  list.Bind(1, selector.kind);
  if (!selector.ns.empty()) list.Bind(2, selector.ns);
  ListResult result;
  result.revision = revision_;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    json object = json::parse(list.Text(0), nullptr, false);
    if (object.is_discarded()) return absl::DataLossError("stored object is not JSON");
    result.items.push_back(std::move(object));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "list");
  return result;
}

absl::StatusOr<Store::WatchId> SqliteStore::Watch(const Selector& selector, int64_t after_revision,
                                                  WatchCallback callback) {
  if (after_revision < compacted_) {
    return absl::OutOfRangeError(
        absl::StrCat("too old resource version: ", after_revision, " (", compacted_ + 1, ")"));
  }
  Statement replay(db_,
                   "SELECT revision, type, namespace, name, object FROM changes "
                   "WHERE revision > ?1 AND kind = ?2 ORDER BY revision");
  replay.Bind(1, after_revision).Bind(2, selector.kind);
  std::vector<WatchEvent> backlog;
  int rc;
  while ((rc = replay.Step()) == SQLITE_ROW) {
    ResourceKey key{selector.kind, replay.Text(2), replay.Text(3)};
    if (!selector.Matches(key)) continue;
    json object = json::parse(replay.Text(4), nullptr, false);
    if (object.is_discarded()) return absl::DataLossError("logged object is not JSON");
    backlog.push_back(
        WatchEvent{static_cast<EventType>(replay.Int(1)), replay.Int(0), std::move(object)});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "replay");
  const WatchId id = next_watch_id_++;
  watchers_[id] = Watcher{selector, callback};
  for (const WatchEvent& event : backlog) {
    if (!watchers_.contains(id)) break;  // the callback gave up
    callback(event);
  }
  return id;
}

void SqliteStore::Unwatch(WatchId id) { watchers_.erase(id); }

}  // namespace weft::control
