// Which proxies see the same config: the parts of a ProxyIdentity the translator reads, so weftd
// translates once per distinct view instead of once per proxy (1000 replicas of a few apps are a
// handful of views).
//
// The translator reads from ProxyIdentity: namespace_ (visibility, exportTo, sourceNamespace,
// Sidecar and DestinationRule lookup), locality (locality load balancing), capture (the listener
// layout) and, without capture, outbound_address, upstreams (WEFT_UPSTREAMS listeners) and, only
// when there are ports, ip (the inbound bind address); ports (inbound listeners and clusters), and
// labels only through selectors: VirtualService match sourceLabels (http, tcp,
// tls), DestinationRule and Sidecar workloadSelector. It never reads node_id. So two proxies whose
// identities agree on those fields, and on the values of the label keys some selector mentions,
// get byte-identical output (tests/unit/control/translate/view_key_test.cc checks this).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "control/translate/translate.h"

namespace weft::control::translate {

// The label keys any selector among `resources` (stored Istio objects) mentions.
std::set<std::string> SelectorLabelKeys(const std::vector<nlohmann::json>& resources);

// `proxy` reduced to what the translator reads: node_id cleared, labels limited to
// `label_keys`, ip cleared when there are no ports. Translate(snapshot, ViewOf(p, keys)) equals
// Translate(snapshot, p) when `keys` is SelectorLabelKeys(snapshot.resources).
ProxyIdentity ViewOf(const ProxyIdentity& proxy, const std::set<std::string>& label_keys);

// A string equal for two proxies exactly when their ViewOf() are equal.
std::string ViewKey(const ProxyIdentity& view);

}  // namespace weft::control::translate
