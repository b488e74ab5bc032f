#include "control/translate/view_key.h"

#include "absl/strings/str_cat.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;

void AddKeys(const json& labels, std::set<std::string>& keys) {
  if (!labels.is_object()) return;
  for (const auto& [key, _] : labels.items()) keys.insert(key);
}

// Every "sourceLabels" object at any depth (VirtualService http/tcp/tls match entries), so a
// selector in a place added to the translator later is not missed.
void AddSourceLabels(const json& node, std::set<std::string>& keys) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "sourceLabels") AddKeys(value, keys);
      AddSourceLabels(value, keys);
    }
  } else if (node.is_array()) {
    for (const json& item : node) AddSourceLabels(item, keys);
  }
}

// A field of the key: length-prefixed so no value can fake a separator.
void Field(std::string& key, std::string_view value) {
  absl::StrAppend(&key, value.size(), ":", absl::string_view(value.data(), value.size()), ";");
}

}  // namespace

std::set<std::string> SelectorLabelKeys(const std::vector<json>& resources) {
  std::set<std::string> keys;
  for (const json& r : resources) {
    const std::string kind = r.value("kind", "");
    const json& spec = r.contains("spec") ? r["spec"] : json::object();
    if (kind == "PeerAuthentication" || kind == "AuthorizationPolicy" ||
        kind == "RequestAuthentication") {
      // security.istio.io selectors: {matchLabels: {...}}.
      if (spec.is_object() && spec.contains("selector") && spec["selector"].is_object()) {
        AddKeys(spec["selector"].value("matchLabels", json::object()), keys);
      }
      continue;
    }
    if (kind != "VirtualService" && kind != "DestinationRule" && kind != "Sidecar") continue;
    if (kind == "VirtualService") {
      AddSourceLabels(spec, keys);
    } else if (spec.is_object() && spec.contains("workloadSelector") &&
               spec["workloadSelector"].is_object()) {
      AddKeys(spec["workloadSelector"].value("labels", json::object()), keys);
    }
  }
  return keys;
}

ProxyIdentity ViewOf(const ProxyIdentity& proxy, const std::set<std::string>& label_keys) {
  ProxyIdentity view = proxy;
  view.node_id.clear();
  view.labels.clear();
  for (const auto& [key, value] : proxy.labels) {
    if (label_keys.count(key)) view.labels.emplace(key, value);
  }
  if (view.ports.empty()) view.ip.clear();
  if (view.capture) {
    // Captured proxies bind 0.0.0.0:15001/15006 (capture.cc): neither the outbound address nor
    // the workload IP nor WEFT_UPSTREAMS (no-capture only) shapes their output.
    view.outbound_address = ProxyIdentity().outbound_address;
    view.ip.clear();
    view.upstreams.clear();
  }
  return view;
}

std::string ViewKey(const ProxyIdentity& view) {
  std::string key;
  Field(key, view.namespace_);
  Field(key, view.locality);
  Field(key, view.outbound_address);
  Field(key, view.ip);
  key += view.proxyless_grpc ? "g|" : "s|";
  key += view.capture ? "c|" : "n|";
  key += view.mtls ? "m|" : "p|";
  for (const UpstreamBinding& u : view.upstreams) {
    Field(key, u.host);
    Field(key, u.bind_address);
    absl::StrAppend(&key, u.port, ",", u.bind_port, ",");
  }
  key += "|";
  for (const auto& [k, v] : view.labels) {
    Field(key, k);
    Field(key, v);
  }
  key += "|";
  for (const ServicePort& p : view.ports) {
    absl::StrAppend(&key, p.number, ",", p.target_port, ",");
    Field(key, p.name);
    Field(key, p.protocol);
  }
  return key;
}

}  // namespace weft::control::translate
