#include "control/xds/snapshot_cache.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "base/logging.h"

namespace weft::control::xds {
namespace {

// FNV-1a, 64 bits: stable across runs and builds (std::hash is not), which a version a proxy
// reports back after a server restart needs.
uint64_t Fnv1a(uint64_t h, const std::string& bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string ContentVersion(const TypeResources& t) {
  uint64_t h = kFnvOffset;
  for (const auto& [name, bytes] : t.resources) {
    h = Fnv1a(h, name);
    h = Fnv1a(h, "\0");
    h = Fnv1a(h, bytes);
  }
  return Hex(h);
}

// Types whose version or resources differ between two snapshots (either may be null).
std::vector<std::string> ChangedTypes(const Snapshot* before, const Snapshot* after) {
  std::set<std::string> types;
  if (before) {
    for (const auto& [type, _] : *before) types.insert(type);
  }
  if (after) {
    for (const auto& [type, _] : *after) types.insert(type);
  }
  std::vector<std::string> changed;
  for (const std::string& type : types) {
    const TypeResources* a = nullptr;
    const TypeResources* b = nullptr;
    if (before) {
      if (auto it = before->find(type); it != before->end()) a = &it->second;
    }
    if (after) {
      if (auto it = after->find(type); it != after->end()) b = &it->second;
    }
    const bool a_empty = a == nullptr || a->resources.empty();
    const bool b_empty = b == nullptr || b->resources.empty();
    if (a_empty && b_empty) continue;
    if (a_empty != b_empty || a->version != b->version || a->resources != b->resources) {
      changed.push_back(type);
    }
  }
  SortByWarmingOrder(changed);
  return changed;
}

}  // namespace

int WarmingRank(const std::string& type_url) {
  if (type_url == kClusterType) return 0;
  if (type_url == kEndpointType) return 1;
  if (type_url == kListenerType) return 2;
  if (type_url == kRouteType) return 3;
  return 4;
}

void SortByWarmingOrder(std::vector<std::string>& type_urls) {
  std::sort(type_urls.begin(), type_urls.end(), [](const std::string& a, const std::string& b) {
    const int ra = WarmingRank(a), rb = WarmingRank(b);
    return ra != rb ? ra < rb : a < b;
  });
}

bool IsWildcardType(const std::string& type_url) {
  return type_url == kClusterType || type_url == kListenerType;
}

std::string ResourceVersion(const std::string& serialized_any) {
  return Hex(Fnv1a(kFnvOffset, serialized_any));
}

std::shared_ptr<const Snapshot> SnapshotCache::Seal(Snapshot snapshot) {
  for (auto& [type, resources] : snapshot) {
    if (resources.version.empty()) resources.version = ContentVersion(resources);
    resources.resource_versions.clear();
    for (const auto& [name, bytes] : resources.resources) {
      resources.resource_versions.emplace_hint(resources.resource_versions.end(), name,
                                               ResourceVersion(bytes));
    }
  }
  return std::make_shared<const Snapshot>(std::move(snapshot));
}

void SnapshotCache::SetSnapshot(const std::string& node_id, Snapshot snapshot) {
  SetSharedSnapshot({node_id}, Seal(std::move(snapshot)));
}

std::shared_ptr<const Snapshot> SnapshotCache::SetSnapshots(
    const std::vector<std::string>& node_ids, Snapshot snapshot) {
  std::shared_ptr<const Snapshot> sealed = Seal(std::move(snapshot));
  SetSharedSnapshot(node_ids, sealed);
  return sealed;
}

void SnapshotCache::SetSharedSnapshot(const std::vector<std::string>& node_ids,
                                      std::shared_ptr<const Snapshot> snapshot) {
  std::vector<std::pair<std::shared_ptr<Watcher>, std::vector<std::string>>> to_notify;
  {
    std::lock_guard lock(mu_);
    // Nodes of one view mostly had one snapshot before too: compare each distinct one once.
    // (Keyed by the old snapshot, held here so it outlives the loop that replaces it.)
    std::map<std::shared_ptr<const Snapshot>, std::vector<std::string>> changed_since;
    for (const std::string& node_id : node_ids) {
      std::shared_ptr<const Snapshot>& slot = snapshots_[node_id];
      // A node without a snapshot of its own was served the default so far.
      std::shared_ptr<const Snapshot> before = slot ? std::move(slot) : default_snapshot_;
      slot = snapshot;
      if (before == snapshot) continue;
      auto memo = changed_since.find(before);
      if (memo == changed_since.end()) {
        std::vector<std::string> changed = ChangedTypes(before.get(), snapshot.get());
        memo = changed_since.emplace(std::move(before), std::move(changed)).first;
      }
      if (memo->second.empty()) continue;
      auto [first, last] = watches_by_node_.equal_range(node_id);
      for (auto it = first; it != last; ++it) {
        to_notify.emplace_back(watches_.at(it->second).watcher, memo->second);
      }
    }
  }
  for (auto& [watcher, changed] : to_notify) (*watcher)(changed);
}

void SnapshotCache::SetDefaultSnapshot(Snapshot snapshot) {
  std::shared_ptr<const Snapshot> after = Seal(std::move(snapshot));
  std::vector<std::pair<std::shared_ptr<Watcher>, std::vector<std::string>>> to_notify;
  {
    std::lock_guard lock(mu_);
    std::shared_ptr<const Snapshot> before = std::exchange(default_snapshot_, after);
    // The default snapshot concerns only the nodes that have none of their own.
    std::vector<std::string> changed = ChangedTypes(before.get(), after.get());
    if (!changed.empty()) {
      for (auto& [id, entry] : watches_) {
        if (snapshots_.count(entry.node_id) == 0) to_notify.emplace_back(entry.watcher, changed);
      }
    }
  }
  for (auto& [watcher, changed] : to_notify) (*watcher)(changed);
}

void SnapshotCache::ClearSnapshot(const std::string& node_id) {
  std::vector<std::pair<std::shared_ptr<Watcher>, std::vector<std::string>>> to_notify;
  {
    std::lock_guard lock(mu_);
    auto it = snapshots_.find(node_id);
    if (it == snapshots_.end()) return;
    std::vector<std::string> changed = ChangedTypes(it->second.get(), default_snapshot_.get());
    snapshots_.erase(it);
    if (!changed.empty()) {
      auto [first, last] = watches_by_node_.equal_range(node_id);
      for (auto w = first; w != last; ++w) {
        to_notify.emplace_back(watches_.at(w->second).watcher, changed);
      }
    }
  }
  for (auto& [watcher, changed] : to_notify) (*watcher)(changed);
}

std::shared_ptr<const Snapshot> SnapshotCache::GetSnapshot(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = snapshots_.find(node_id);
  if (it != snapshots_.end() && it->second) return it->second;
  return default_snapshot_;
}

uint64_t SnapshotCache::Watch(const std::string& node_id, Watcher watcher) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_watch_id_++;
  watches_[id] = WatchEntry{node_id, std::make_shared<Watcher>(std::move(watcher))};
  watches_by_node_.emplace(node_id, id);
  return id;
}

void SnapshotCache::Unwatch(uint64_t watch_id) {
  std::lock_guard lock(mu_);
  auto it = watches_.find(watch_id);
  if (it == watches_.end()) return;
  auto [first, last] = watches_by_node_.equal_range(it->second.node_id);
  for (auto w = first; w != last; ++w) {
    if (w->second == watch_id) {
      watches_by_node_.erase(w);
      break;
    }
  }
  watches_.erase(it);
}

void SnapshotCache::StreamOpened(const std::string& node_id) {
  std::lock_guard lock(mu_);
  ++status_[node_id].open_streams;
}

void SnapshotCache::StreamClosed(const std::string& node_id) {
  std::lock_guard lock(mu_);
  --status_[node_id].open_streams;
}

void SnapshotCache::RecordSent(const std::string& node_id, const std::string& type_url,
                               const std::string& version, const std::string& nonce) {
  std::lock_guard lock(mu_);
  TypeStatus& t = status_[node_id].types[type_url];
  t.sent_version = version;
  t.sent_nonce = nonce;
  ++t.pushes;
}

void SnapshotCache::RecordAck(const std::string& node_id, const std::string& type_url,
                              const std::string& version) {
  std::lock_guard lock(mu_);
  TypeStatus& t = status_[node_id].types[type_url];
  t.acked_version = version;
  // An ACK of a newer version supersedes an older NACK: the node is in sync again.
  if (t.nack_version.empty() || t.nack_version == version || version == t.sent_version) {
    t.nack_version.clear();
    t.nack_error.clear();
  }
  ++t.acks;
}

void SnapshotCache::RecordNack(const std::string& node_id, const std::string& type_url,
                               const std::string& rejected_version, const std::string& error) {
  std::lock_guard lock(mu_);
  TypeStatus& t = status_[node_id].types[type_url];
  t.nack_version = rejected_version;
  t.nack_error = error;
  t.last_nack_version = rejected_version;
  t.last_nack_error = error;
  ++t.nacks;
  // Operators see a rejected push without asking (the proxy keeps its last good config).
  WEFT_LOG(warn, "xds: node '{}' NACKed {} version {}: {}", node_id, type_url, rejected_version,
           error);
}

std::optional<NodeStatus> SnapshotCache::Status(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = status_.find(node_id);
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, NodeStatus> SnapshotCache::AllStatuses() const {
  std::lock_guard lock(mu_);
  return status_;
}

}  // namespace weft::control::xds
