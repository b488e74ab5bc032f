#include "control/xds/ads_session.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace weft::control::xds {
namespace {

struct Selected {
  const std::string* bytes;
  std::string version;  // ResourceVersion(*bytes), precomputed by the cache
};

// The resources of `type` in `snapshot` that `names` selects (all when `all`).
std::map<std::string, Selected> Select(const Snapshot* snapshot, const std::string& type,
                                       const std::set<std::string>& names, bool all) {
  std::map<std::string, Selected> out;
  if (snapshot == nullptr) return out;
  auto it = snapshot->find(type);
  if (it == snapshot->end()) return out;
  const TypeResources& t = it->second;
  auto add = [&](const std::string& name, const std::string& bytes) {
    auto v = t.resource_versions.find(name);
    out.emplace_hint(out.end(), name,
                     Selected{&bytes, v != t.resource_versions.end() ? v->second
                                                                     : ResourceVersion(bytes)});
  };
  if (all) {
    for (const auto& [name, bytes] : t.resources) add(name, bytes);
  } else {
    for (const std::string& name : names) {
      if (auto r = t.resources.find(name); r != t.resources.end()) add(name, r->second);
    }
  }
  return out;
}

std::string TypeVersion(const Snapshot* snapshot, const std::string& type) {
  if (snapshot == nullptr) return "";
  auto it = snapshot->find(type);
  // A type the snapshot lacks is served as empty, with a version that says so.
  return it == snapshot->end() ? "empty" : it->second.version;
}

bool IsWildcardRequest(const std::string& type, const std::set<std::string>& names) {
  return names.count("*") > 0 || (names.empty() && IsWildcardType(type));
}

}  // namespace

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
  std::set<std::string> names(request.resource_names().begin(), request.resource_names().end());
  const bool names_changed = names != state.names;
  state.names = std::move(names);
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
  std::shared_ptr<const Snapshot> snapshot = cache_.GetSnapshot(node_id_);
  if (!snapshot) return {};  // nothing to serve yet: the snapshot's arrival will answer
  const bool wildcard = IsWildcardRequest(type, state.names);
  if (!wildcard && state.names.empty()) return {};  // subscribed to nothing
  auto selected = Select(snapshot.get(), type, state.names, wildcard);
  std::string digest;
  for (const auto& [name, r] : selected) absl::StrAppend(&digest, name, "=", r.version, ";");
  if (!force && state.responded && digest == state.sent_digest) return {};

  // xDS protocol, "grouping resources into responses": in SotW only Listener and Cluster
  // responses must carry every resource; for the others (EDS, RDS) a response may carry just
  // the changed ones, omission removing nothing. So a push of one changed endpoint sends one
  // ClusterLoadAssignment, not all of them. The first answer and a changed subscription
  // (`force`) send everything subscribed.
  const bool only_changed = !force && state.responded && !IsWildcardType(type);
  discovery::DiscoveryResponse response;
  response.set_type_url(type);
  response.set_version_info(TypeVersion(snapshot.get(), type));
  response.set_nonce(std::to_string(++nonce_counter_));
  if (!only_changed) state.sent_versions.clear();
  for (const auto& [name, r] : selected) {
    std::string& sent = state.sent_versions[name];
    if (only_changed && sent == r.version) continue;
    sent = r.version;
    if (!response.add_resources()->ParseFromString(*r.bytes))
      response.mutable_resources()->RemoveLast();
  }
  // Forget what left the subscription, so subscribing again sends it again.
  std::erase_if(state.sent_versions, [&](const auto& e) { return !selected.count(e.first); });
  state.sent_version = response.version_info();
  state.sent_digest = std::move(digest);
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
      state.client_versions[name] = version;
    }
    state.wildcard = IsWildcardType(type) && request.resource_names_subscribe_size() == 0;
  }
  bool changed = first;
  for (const std::string& name : request.resource_names_subscribe()) {
    if (name == "*") {
      changed |= !state.wildcard;
      state.wildcard = true;
    } else {
      changed |= state.names.insert(name).second;
    }
  }
  for (const std::string& name : request.resource_names_unsubscribe()) {
    if (name == "*") {
      changed |= state.wildcard;
      state.wildcard = false;
    } else {
      changed |= state.names.erase(name) > 0;
      // The client dropped it: no removed_resources for it, and a later subscribe resends it.
      state.client_versions.erase(name);
    }
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
  std::shared_ptr<const Snapshot> snapshot = cache_.GetSnapshot(node_id_);
  if (!snapshot) return {};
  auto selected = Select(snapshot.get(), type, state.names, state.wildcard);

  discovery::DeltaDiscoveryResponse response;
  response.set_type_url(type);
  response.set_system_version_info(TypeVersion(snapshot.get(), type));
  for (const auto& [name, selected_resource] : selected) {
    const std::string& version = selected_resource.version;
    auto known = state.client_versions.find(name);
    if (known != state.client_versions.end() && known->second == version) continue;
    discovery::Resource* r = response.add_resources();
    r->set_name(name);
    r->set_version(version);
    if (!r->mutable_resource()->ParseFromString(*selected_resource.bytes)) {
      response.mutable_resources()->RemoveLast();
      continue;
    }
    state.client_versions[name] = version;
  }
  for (auto it = state.client_versions.begin(); it != state.client_versions.end();) {
    if (selected.count(it->first)) {
      ++it;
      continue;
    }
    response.add_removed_resources(it->first);
    it = state.client_versions.erase(it);
  }
  if (!always && response.resources_size() == 0 && response.removed_resources_size() == 0) {
    return {};
  }
  response.set_nonce(std::to_string(++nonce_counter_));
  state.pending[nonce_counter_] = response.system_version_info();
  cache_.RecordSent(node_id_, type, response.system_version_info(), response.nonce());
  return {std::move(response)};
}

}  // namespace weft::control::xds
