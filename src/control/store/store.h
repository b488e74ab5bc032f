// The resource store behind weftd's API: Kubernetes-shaped JSON objects keyed by (kind,
// namespace, name), versioned the way etcd versions keys. One global revision counts every
// write; an object's metadata.resourceVersion is the revision of its last write, so a client
// that read revision N and writes with resourceVersion N is refused (kConflict) if anyone wrote
// the object since. Watches replay the change log from a revision, then follow live writes, in
// revision order. Backends: SQLite (sqlite_store.h); etcd can follow behind the same interface.
//
// Not thread-safe: weftd calls it from its main dispatcher. Watch callbacks run synchronously
// inside the write that caused them, after the write is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::control {

struct ResourceKey {
  std::string kind;  // e.g. "VirtualService" (versions of a kind share one key space)
  std::string ns;
  std::string name;
};

enum class EventType { kAdded, kModified, kDeleted };
std::string_view EventTypeName(EventType type);  // "ADDED", "MODIFIED", "DELETED"

struct WatchEvent {
  EventType type;
  int64_t revision;
  // The object after the write; for kDeleted, the object as it was, with the deleting revision
  // as its resourceVersion (as Kubernetes reports a deletion).
  nlohmann::json object;
};

struct ListResult {
  std::vector<nlohmann::json> items;  // ordered by namespace, then name
  int64_t revision = 0;               // the store's revision when listed
};

// Which objects a list or watch covers: one kind, optionally one namespace.
struct Selector {
  std::string kind;
  std::string ns;  // empty: every namespace
  bool Matches(const ResourceKey& key) const;
};

// Errors, as absl codes the API maps to HTTP:
//   kAlreadyExists -> 409 AlreadyExists, kNotFound -> 404, kAborted -> 409 Conflict (stale
//   resourceVersion), kOutOfRange -> 410 Expired (watch from a compacted revision),
//   kInternal / kUnavailable -> 500.
class Store {
 public:
  using WatchCallback = std::function<void(const WatchEvent&)>;
  using WatchId = uint64_t;

  virtual ~Store() = default;

  // Stores a new object; `object` must carry kind, metadata.namespace and metadata.name.
  // Returns it as stored, metadata.resourceVersion set to the new revision.
  virtual absl::StatusOr<nlohmann::json> Create(nlohmann::json object) = 0;
  // Replaces an existing object if its revision is `expected_revision` (0: any revision).
  virtual absl::StatusOr<nlohmann::json> Update(nlohmann::json object,
                                                int64_t expected_revision) = 0;
  // Deletes an object if its revision is `expected_revision` (0: any). Returns the deleted
  // object.
  virtual absl::StatusOr<nlohmann::json> Delete(const ResourceKey& key,
                                                int64_t expected_revision) = 0;
  virtual absl::StatusOr<nlohmann::json> Get(const ResourceKey& key) = 0;
  virtual absl::StatusOr<ListResult> List(const Selector& selector) = 0;
  // The revision of the last write (0 for an empty store).
  virtual int64_t Revision() const = 0;

  // Delivers every change with revision > `after_revision` matching `selector` (from the change
  // log, kOutOfRange if it was compacted away), then each later change as it is written, until
  // Unwatch. The replay happens before Watch returns.
  virtual absl::StatusOr<WatchId> Watch(const Selector& selector, int64_t after_revision,
                                        WatchCallback callback) = 0;
  virtual void Unwatch(WatchId id) = 0;
};

// The (kind, namespace, name) of a stored object.
ResourceKey KeyOf(const nlohmann::json& object);

}  // namespace weft::control
