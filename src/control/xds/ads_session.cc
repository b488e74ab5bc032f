#include "control/xds/ads_session.h"

#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace weft::control::xds {
namespace {

const TypeResources* FindType(const Snapshot* snapshot, const std::string& type) {
  if (snapshot == nullptr) return nullptr;
  auto it = snapshot->find(type);
  return it == snapshot->end() ? nullptr : &it->second;
}

// Calls visit(name, bytes, version) for each resource of `t` the subscription selects (all, or
// those in `names`), in name order. One merge walk, no allocation: a push to 1000 streams must
// not build 1000 maps of every resource.
template <typename Visit>
void ForEachSelected(const TypeResources* t, bool all, const std::set<std::string>& names,
                     Visit&& visit) {
  if (t == nullptr) return;
  // The cache fills resource_versions for every snapshot it stores (same names, same order).
  const bool versioned = t->resource_versions.size() == t->resources.size();
  auto version = t->resource_versions.begin();
  auto wanted = names.begin();
  for (const auto& [name, bytes] : t->resources) {
    std::string computed;
    const std::string& v = versioned ? (version++)->second : (computed = ResourceVersion(bytes));
    if (!all) {
      while (wanted != names.end() && *wanted < name) ++wanted;
      if (wanted == names.end() || *wanted != name) continue;
    }
    visit(name, bytes, v);
  }
}

std::string TypeVersion(const Snapshot* snapshot, const std::string& type) {
  if (snapshot == nullptr) return "";
  auto it = snapshot->find(type);
  // A type the snapshot lacks is served as empty, with a version that says so.
  return it == snapshot->end() ? "empty" : it->second.version;
}

// What a session sees of its node's snapshot for `type`: a stream that did not authenticate
// sees no Secret (private keys go only to proxies that proved their namespace, ads_server.h),
// as if the snapshot had none: the proxy is answered, with nothing, and does not wait.
std::shared_ptr<const Snapshot> VisibleSnapshot(const SnapshotCache& cache,
                                                const std::string& node_id, const std::string& type,
                                                bool serve_secrets) {
  std::shared_ptr<const Snapshot> snapshot = cache.GetSnapshot(node_id);
  if (!snapshot || serve_secrets || type != kSecretType) return snapshot;
  static const auto* const kNoSecrets = new std::shared_ptr<const Snapshot>([] {
    auto none = std::make_shared<Snapshot>();
    (*none)[kSecretType].version = "unauthenticated";
    return none;
  }());
  return *kNoSecrets;
}

bool IsWildcardRequest(const std::string& type, const std::set<std::string>& names) {
  return names.count("*") > 0 || (names.empty() && IsWildcardType(type));
}

}  // namespace

NameSet InternNames(std::set<std::string> names) {
  // Content hash -> the sets alive with that hash; entries of freed sets are swept on insert.
  static std::mutex mu;
  static std::unordered_map<uint64_t, std::vector<std::weak_ptr<const std::set<std::string>>>> pool;
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over the names and their separators
  for (const std::string& n : names) {
    for (unsigned char c : n) hash = (hash ^ c) * 0x100000001b3ULL;
    hash = (hash ^ 0xff) * 0x100000001b3ULL;
  }
  std::lock_guard lock(mu);
  auto& bucket = pool[hash];
  for (auto it = bucket.begin(); it != bucket.end();) {
    if (NameSet existing = it->lock()) {
      if (*existing == names) return existing;
      ++it;
    } else {
      it = bucket.erase(it);
    }
  }
  auto interned = std::make_shared<const std::set<std::string>>(std::move(names));
  bucket.push_back(interned);
  return interned;
}

void ClientView::SetExplicit(const std::string& name, const std::string& version) {
  explicit_ = true;
  versions_[name] = version;
}

void ClientView::Subscribed(const std::string& name) {
  // Explicitly held versions stay true (a reconnecting Delta client subscribes to what it has).
  if (!explicit_) lacking_.insert(name);
}

void ClientView::Unsubscribed(const std::string& name) {
  // Implicitly: it leaves the selection, so it is neither compared nor reported removed.
  if (explicit_) versions_.erase(name);
  lacking_.erase(name);
}

void ClientView::Pin(const std::string& type, bool all, const std::set<std::string>& names) {
  if (explicit_) return;
  explicit_ = true;
  versions_.clear();
  ForEachSelected(FindType(held_.get(), type), all, names,
                  [&](const std::string& name, const std::string&, const std::string& version) {
                    if (!lacking_.count(name))
                      versions_.emplace_hint(versions_.end(), name, version);
                  });
  held_.reset();
  lacking_.clear();
}

void ClientView::Update(const std::shared_ptr<const Snapshot>& now, const std::string& type,
                        bool all, const std::set<std::string>& names, const Changed& changed,
                        const Removed& removed) {
  const TypeResources* next = FindType(now.get(), type);
  std::set<std::string> lacking;  // what `changed` declined
  if (explicit_) {
    // Merge the explicit map with the selection of `now`.
    auto k = versions_.begin();
    ForEachSelected(next, all, names,
                    [&](const std::string& name, const std::string& bytes, const std::string& v) {
                      while (k != versions_.end() && k->first < name) removed((k++)->first);
                      const bool has = k != versions_.end() && k->first == name;
                      if ((!has || k->second != v) && !changed(name, bytes, v)) {
                        lacking.insert(name);
                      }
                      if (has) ++k;
                    });
    for (; k != versions_.end(); ++k) removed(k->first);
    versions_.clear();
    explicit_ = false;
  } else if (held_ != now || !lacking_.empty()) {
    // Merge the held snapshot's selection with `now`'s, both in name order. The subscription
    // is today's for both: what left it was dropped (Unsubscribed), what joined is lacking.
    static const TypeResources kNone;
    const TypeResources* before = FindType(held_.get(), type);
    if (before == nullptr) before = &kNone;
    if (next == nullptr) next = &kNone;
    auto wanted = names.begin();
    auto subscribed = [&](const std::string& name) {
      if (all) return true;
      while (wanted != names.end() && *wanted < name) ++wanted;
      return wanted != names.end() && *wanted == name;
    };
    auto version_of = [](const TypeResources& t, auto& it, const std::string& bytes) {
      return t.resource_versions.size() == t.resources.size() ? (it++)->second
                                                              : ResourceVersion(bytes);
    };
    auto b = before->resources.begin();
    auto bv = before->resource_versions.begin();
    auto n = next->resources.begin();
    auto nv = next->resource_versions.begin();
    while (b != before->resources.end() || n != next->resources.end()) {
      const int order = b == before->resources.end() ? 1
                        : n == next->resources.end() ? -1
                                                     : b->first.compare(n->first);
      if (order < 0) {                                          // gone from the snapshot
        static_cast<void>(version_of(*before, bv, b->second));  // keeps bv in step
        if (subscribed(b->first) && !lacking_.count(b->first)) removed(b->first);
        ++b;
        continue;
      }
      const std::string& name = n->first;
      const std::string version = version_of(*next, nv, n->second);
      bool send = true;
      if (order == 0) {
        send = lacking_.count(name) || version_of(*before, bv, b->second) != version;
        ++b;
      }
      if (send && subscribed(name) && !changed(name, n->second, version)) lacking.insert(name);
      ++n;
    }
  }
  held_ = now;
  lacking_ = std::move(lacking);
}

std::vector<discovery::DiscoveryResponse> SotwSession::OnRequest(
    const discovery::DiscoveryRequest& request) {
  const std::string& type = request.type_url();
  if (type.empty()) return {};  // ADS requests must name their type
  TypeState& state = types_[type];
  const std::string& nonce = request.response_nonce();
  if (!nonce.empty()) {
    if (nonce != state.nonce) {
      // Stale: it answers a response superseded since, so it triggers nothing. An ACK in it is
      // still true (requests arrive in order): the client did apply that version.
      if (!request.has_error_detail() && !request.version_info().empty()) {
        cache_.RecordAck(node_id_, type, request.version_info());
      }
      return {};
    }
    if (request.has_error_detail()) {
      cache_.RecordNack(node_id_, type, state.sent_version, request.error_detail().message());
    } else {
      cache_.RecordAck(node_id_, type, request.version_info());
    }
  }
  // SotW requests repeat the whole subscription (1000 EDS names in every ACK): compare it
  // in place and build a new set only when it differs.
  const NameSet old_names = state.names;
  bool names_changed = static_cast<size_t>(request.resource_names_size()) != old_names->size();
  for (int i = 0; i < request.resource_names_size() && !names_changed; ++i) {
    names_changed = old_names->count(request.resource_names(i)) == 0;
  }
  if (names_changed) {
    std::set<std::string> names(request.resource_names().begin(), request.resource_names().end());
    const bool was_wildcard = IsWildcardRequest(type, *old_names);
    if (was_wildcard != IsWildcardRequest(type, names)) {
      state.client.Pin(type, was_wildcard, *old_names);
    }
    for (const std::string& n : names) {
      if (!old_names->count(n)) state.client.Subscribed(n);
    }
    for (const std::string& n : *old_names) {
      if (!names.count(n)) state.client.Unsubscribed(n);
    }
    state.names = InternNames(std::move(names));
  }
  // An ACK or NACK that keeps the subscription asks for nothing: after a NACK the last good
  // config stays, and newer snapshots come through OnSnapshotChanged (debounced by the server).
  if (!nonce.empty() && !names_changed) return {};
  // The first request of a type always gets an answer (the client waits for it); a changed
  // subscription gets one when it now sees something else.
  return Respond(type, state, nonce.empty());
}

std::vector<discovery::DiscoveryResponse> SotwSession::OnSnapshotChanged(
    const std::vector<std::string>& changed_types) {
  std::vector<discovery::DiscoveryResponse> out;
  for (const std::string& type : changed_types) {
    auto it = types_.find(type);
    if (it == types_.end()) continue;  // not subscribed on this stream
    for (auto& r : Respond(type, it->second, /*force=*/false)) out.push_back(std::move(r));
  }
  return out;
}

std::vector<discovery::DiscoveryResponse> SotwSession::Respond(const std::string& type,
                                                               TypeState& state, bool force) {
  std::shared_ptr<const Snapshot> snapshot =
      VisibleSnapshot(cache_, node_id_, type, serve_secrets_);
  if (!snapshot) return {};  // nothing to serve yet: the snapshot's arrival will answer
  const bool wildcard = IsWildcardRequest(type, *state.names);
  if (!wildcard && state.names->empty()) return {};  // subscribed to nothing
  const TypeResources* t = FindType(snapshot.get(), type);

  // What changed since the last response, for this subscription.
  std::vector<std::pair<const std::string*, const std::string*>> changed;  // name, bytes
  size_t removed = 0;
  state.client.Update(
      snapshot, type, wildcard, *state.names,
      [&](const std::string& name, const std::string& bytes, const std::string&) {
        changed.emplace_back(&name, &bytes);
        return true;
      },
      [&](const std::string&) { ++removed; });
  if (!force && state.responded && changed.empty() && removed == 0) return {};

  discovery::DiscoveryResponse response;
  response.set_type_url(type);
  response.set_version_info(TypeVersion(snapshot.get(), type));
  response.set_nonce(std::to_string(++nonce_counter_));
  auto add = [&](const std::string& bytes) {
    if (!response.add_resources()->ParseFromString(bytes)) {
      response.mutable_resources()->RemoveLast();
    }
  };
  // xDS protocol, "grouping resources into responses": in SotW only Listener and Cluster
  // responses must carry every resource; for the others (EDS, RDS) a response may carry just
  // the changed ones, omission removing nothing. So a push of one changed endpoint sends one
  // ClusterLoadAssignment, not all of them. The first answer and a changed subscription
  // (`force`) carry everything subscribed.
  if (!force && state.responded && !IsWildcardType(type)) {
    for (const auto& [name, bytes] : changed) add(*bytes);
  } else {
    ForEachSelected(
        t, wildcard, *state.names,
        [&](const std::string&, const std::string& bytes, const std::string&) { add(bytes); });
  }
  state.sent_version = response.version_info();
  state.nonce = response.nonce();
  state.responded = true;
  cache_.RecordSent(node_id_, type, state.sent_version, state.nonce);
  return {std::move(response)};
}

std::vector<discovery::DeltaDiscoveryResponse> DeltaSession::OnRequest(
    const discovery::DeltaDiscoveryRequest& request) {
  const std::string& type = request.type_url();
  if (type.empty()) return {};
  const bool first = types_.count(type) == 0;
  TypeState& state = types_[type];
  const std::string& nonce = request.response_nonce();
  if (!nonce.empty()) {
    uint64_t nonce_value = 0;
    const bool numeric = absl::SimpleAtoi(nonce, &nonce_value);
    auto sent = numeric ? state.pending.find(nonce_value) : state.pending.end();
    const std::string version = sent == state.pending.end() ? "" : sent->second;
    if (request.has_error_detail()) {
      cache_.RecordNack(node_id_, type, version, request.error_detail().message());
    } else if (sent != state.pending.end()) {
      cache_.RecordAck(node_id_, type, version);
    }
    // This nonce and every older one are answered now.
    state.pending.erase(state.pending.begin(),
                        sent == state.pending.end() ? sent : std::next(sent));
  }
  if (first) {
    // A client that reconnects says what it still has; only differences are sent.
    for (const auto& [name, version] : request.initial_resource_versions()) {
      state.client.SetExplicit(name, version);
    }
    state.wildcard = IsWildcardType(type) && request.resource_names_subscribe_size() == 0;
  }
  bool changed = first;
  if (request.resource_names_subscribe_size() + request.resource_names_unsubscribe_size() > 0) {
    std::set<std::string> names = *state.names;  // shared: changed on a copy
    bool names_changed = false;
    for (const std::string& name : request.resource_names_subscribe()) {
      if (name == "*") {
        if (!state.wildcard) state.client.Pin(type, false, names);
        changed |= !state.wildcard;
        state.wildcard = true;
      } else if (names.insert(name).second) {
        changed = names_changed = true;
        if (!state.wildcard) state.client.Subscribed(name);
      }
    }
    for (const std::string& name : request.resource_names_unsubscribe()) {
      if (name == "*") {
        if (state.wildcard) state.client.Pin(type, true, names);
        changed |= state.wildcard;
        state.wildcard = false;
      } else if (names.erase(name) > 0) {
        changed = names_changed = true;
        // The client dropped it: no removed_resources for it, and a later subscribe resends it.
        if (!state.wildcard) state.client.Unsubscribed(name);
      }
    }
    if (names_changed) state.names = InternNames(std::move(names));
  }
  if (!changed) return {};
  return Respond(type, state, first);
}

std::vector<discovery::DeltaDiscoveryResponse> DeltaSession::OnSnapshotChanged(
    const std::vector<std::string>& changed_types) {
  std::vector<discovery::DeltaDiscoveryResponse> out;
  for (const std::string& type : changed_types) {
    auto it = types_.find(type);
    if (it == types_.end()) continue;
    for (auto& r : Respond(type, it->second, false)) out.push_back(std::move(r));
  }
  return out;
}

std::vector<discovery::DeltaDiscoveryResponse> DeltaSession::Respond(const std::string& type,
                                                                     TypeState& state,
                                                                     bool always) {
  std::shared_ptr<const Snapshot> snapshot =
      VisibleSnapshot(cache_, node_id_, type, serve_secrets_);
  if (!snapshot) return {};
  discovery::DeltaDiscoveryResponse response;
  response.set_type_url(type);
  response.set_system_version_info(TypeVersion(snapshot.get(), type));
  state.client.Update(
      snapshot, type, state.wildcard, *state.names,
      [&](const std::string& name, const std::string& bytes, const std::string& version) {
        discovery::Resource* r = response.add_resources();
        r->set_name(name);
        r->set_version(version);
        if (!r->mutable_resource()->ParseFromString(bytes)) {
          response.mutable_resources()->RemoveLast();
          return false;  // not sent: the client keeps what it had
        }
        return true;
      },
      [&](const std::string& name) { response.add_removed_resources(name); });
  if (!always && response.resources_size() == 0 && response.removed_resources_size() == 0) {
    return {};
  }
  response.set_nonce(std::to_string(++nonce_counter_));
  state.pending[nonce_counter_] = response.system_version_info();
  cache_.RecordSent(node_id_, type, response.system_version_info(), response.nonce());
  return {std::move(response)};
}

}  // namespace weft::control::xds
