// Proxyless gRPC: the resources a gRPC client's own xDS resolver asks for when it dials
// `xds:///<host>:<port>` (gRFC A27: LDS api_listener -> RDS -> CDS -> EDS), built from the same
// VirtualServices and DestinationRules a sidecar sees:
// - LDS: per service port, an api_listener under each name a client may dial — the FQDN
//   ("reviews.default.svc.cluster.local:9080") and the short forms of ServiceHostNames
//   ("reviews:9080" from the service's namespace, "reviews.default:9080", ...; Istio's grpcgen
//   expands short names the same way, pilot/pkg/networking/grpcgen/lds.go). Its
//   HttpConnectionManager takes routes over ADS from "<fqdn>:<port>"; filters fault then router.
//   The snapshot holds every name; the ADS session answers only the names the client subscribed.
// - RDS: one RouteConfiguration per service port, the service's virtual host from routes.cc.
// - CDS/EDS: the sidecar's clusters from clusters.cc, changed where gRPC would NACK or ignore.
//
// What gRPC honours is listed in grpc/grpc doc/grpc_xds_features.md; the floor here is Debian's
// gRPC C-core 1.51: weighted clusters and header matching (A28) with the HeaderMatcher fields that
// predate string_match (A63, 1.56), timeouts only through max_stream_duration (A31), fault
// injection (A33), retries on cancelled / deadline-exceeded / internal / resource-exhausted /
// unavailable (A44), ROUND_ROBIN and RING_HASH balancing (A42; LEAST_REQUEST, A48, is not in
// C-core), LOGICAL_DNS and EDS clusters (A37).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"

namespace weft::control::translate::internal {
namespace {

namespace cluster_pb = envoy::config::cluster::v3;
namespace route = envoy::config::route::v3;
namespace lst = envoy::config::listener::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;
using envoy::type::matcher::v3::StringMatcher;

// HeaderMatcher.string_match -> the per-pattern fields gRPC C-core reads before 1.56 (gRFC A63);
// grpc-js reads both. Deprecated in Envoy's proto, hence the pragma.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void UseLegacyHeaderMatchers(route::RouteMatch& match) {
  for (route::HeaderMatcher& h : *match.mutable_headers()) {
    if (!h.has_string_match()) continue;
    const StringMatcher m = h.string_match();
    h.clear_string_match();
    switch (m.match_pattern_case()) {
      case StringMatcher::kExact:
        h.set_exact_match(m.exact());
        break;
      case StringMatcher::kPrefix:
        h.set_prefix_match(m.prefix());
        break;
      case StringMatcher::kSuffix:
        h.set_suffix_match(m.suffix());
        break;
      case StringMatcher::kContains:
        h.set_contains_match(m.contains());
        break;
      case StringMatcher::kSafeRegex:
        *h.mutable_safe_regex_match() = m.safe_regex();
        break;
      default:
        h.set_present_match(true);
        break;
    }
  }
}
#pragma GCC diagnostic pop

void AdaptRoute(route::Route& r, const std::string& where, const View& view) {
  UseLegacyHeaderMatchers(*r.mutable_match());
  if (!r.has_route()) return;
  route::RouteAction& action = *r.mutable_route();
  // gRFC A31: gRPC takes the route's timeout from max_stream_duration (RouteAction.timeout is
  // an Envoy idle/response timeout it does not read); 0s (Istio's "no timeout") sets nothing.
  if (action.has_timeout()) {
    if (action.timeout().seconds() != 0 || action.timeout().nanos() != 0) {
      *action.mutable_max_stream_duration()->mutable_max_stream_duration() = action.timeout();
    }
    action.clear_timeout();
  }
  // gRFC A44: retry_on, num_retries and retry_back_off are read; the rest is Envoy's.
  if (action.has_retry_policy()) {
    route::RetryPolicy& retry = *action.mutable_retry_policy();
    retry.clear_retry_host_predicate();
    retry.clear_host_selection_retry_max_attempts();
    retry.clear_retriable_status_codes();
    if (retry.has_per_try_timeout()) {
      view.Warn(absl::StrCat(where, ": retries.perTryTimeout: gRPC clients ignore it"));
      retry.clear_per_try_timeout();
    }
  }
  if (action.request_mirror_policies_size() > 0) {
    view.Warn(absl::StrCat(where, ": mirror: not supported by gRPC clients (skipped)"));
    action.clear_request_mirror_policies();
  }
  // gRFC A42: ring hash keys come from headers only.
  auto* hashes = action.mutable_hash_policy();
  const auto not_header = [](const route::RouteAction::HashPolicy& h) { return !h.has_header(); };
  if (std::any_of(hashes->begin(), hashes->end(), not_header)) {
    view.Warn(absl::StrCat(where,
                           ": consistentHash: gRPC clients hash on httpHeaderName only "
                           "(others skipped)"));
    hashes->erase(std::remove_if(hashes->begin(), hashes->end(), not_header), hashes->end());
  }
}

// False for a cluster gRPC cannot use (ORIGINAL_DST, STATIC): it is left out.
bool AdaptCluster(cluster_pb::Cluster& c, const View& view) {
  const std::string where = absl::StrCat("proxyless gRPC: cluster ", c.name());
  switch (c.type()) {
    case cluster_pb::Cluster::EDS:
    case cluster_pb::Cluster::LOGICAL_DNS:
      break;
    case cluster_pb::Cluster::STRICT_DNS: {
      // gRFC A37: a LOGICAL_DNS cluster has exactly one locality with one endpoint.
      c.set_type(cluster_pb::Cluster::LOGICAL_DNS);
      auto* localities = c.mutable_load_assignment()->mutable_endpoints();
      if (localities->size() > 1) localities->DeleteSubrange(1, localities->size() - 1);
      if (!localities->empty() && (*localities)[0].lb_endpoints_size() > 1) {
        view.Warn(absl::StrCat(where, ": gRPC resolves one DNS name per cluster (the first)"));
        auto* eps = (*localities)[0].mutable_lb_endpoints();
        eps->DeleteSubrange(1, eps->size() - 1);
      }
      break;
    }
    default:
      return false;
  }
  switch (c.lb_policy()) {
    case cluster_pb::Cluster::ROUND_ROBIN:
    case cluster_pb::Cluster::RING_HASH:
      break;
    case cluster_pb::Cluster::LEAST_REQUEST:
    case cluster_pb::Cluster::RANDOM:
      // Istio's default LEAST_REQUEST (and RANDOM) would be NACKed by gRPC C-core, which lacks
      // both: round robin is the nearest it has.
      c.set_lb_policy(cluster_pb::Cluster::ROUND_ROBIN);
      c.clear_least_request_lb_config();
      break;
    default:
      view.Warn(absl::StrCat(where, ": maglev: not supported by gRPC clients (round robin)"));
      c.set_lb_policy(cluster_pb::Cluster::ROUND_ROBIN);
      c.clear_maglev_lb_config();
      break;
  }
  if (c.has_outlier_detection()) {
    // gRPC's outlier detection (A50) knows only success-rate and failure-percentage ejection,
    // on by default when the message is present: Istio's consecutive-error settings would turn
    // into something else.
    view.Warn(absl::StrCat(where, ": outlierDetection: not applied to gRPC clients (skipped)"));
    c.clear_outlier_detection();
  }
  // Envoy-only: upstream HTTP options, panic threshold, locality-weighted flag (gRPC always
  // weighs localities).
  c.clear_typed_extension_protocol_options();
  c.clear_common_lb_config();
  return true;
}

// gRPC C-core refuses a locality without its `locality` message ("field not present", even an
// empty one will do) and gives no traffic to one without load_balancing_weight (gRFC A27), where
// Envoy weighs localities only when asked: the weight is the locality's endpoint count (or sum of
// endpoint weights).
void SetLocalities(envoy::config::endpoint::v3::ClusterLoadAssignment& cla) {
  for (auto& locality : *cla.mutable_endpoints()) {
    locality.mutable_locality();
    if (locality.has_load_balancing_weight()) continue;
    uint32_t sum = 0;
    for (const auto& e : locality.lb_endpoints()) {
      sum += e.has_load_balancing_weight() ? e.load_balancing_weight().value() : 1;
    }
    locality.mutable_load_balancing_weight()->set_value(std::max(sum, 1u));
  }
}

lst::Listener ApiListener(const std::string& name, const std::string& route_config_name) {
  hcm::HttpConnectionManager m;
  auto* rds = m.mutable_rds();
  rds->set_route_config_name(route_config_name);
  rds->mutable_config_source()->mutable_ads();
  rds->mutable_config_source()->set_resource_api_version(envoy::config::core::v3::V3);
  AddHttpFilters(m, HttpFilters::kProxylessGrpc);
  lst::Listener l;
  l.set_name(name);
  l.mutable_api_listener()->mutable_api_listener()->PackFrom(m);
  return l;
}

}  // namespace

void BuildProxylessResources(const View& view, XdsResources& out) {
  XdsResources sidecar;
  BuildOutboundClusters(view, sidecar);
  std::set<std::string> kept;
  for (cluster_pb::Cluster& c : sidecar.clusters) {
    if (!AdaptCluster(c, view)) continue;
    kept.insert(c.name());
    out.clusters.push_back(std::move(c));
  }
  for (auto& cla : sidecar.endpoints) {
    if (!kept.count(cla.cluster_name())) continue;
    SetLocalities(cla);
    out.endpoints.push_back(std::move(cla));
  }

  std::set<std::string> listener_names;
  for (const Service* s : view.services()) {
    if (s->hostname.find('*') != std::string::npos) continue;
    for (const ServicePort& port : s->ports) {
      const std::string route_config_name = absl::StrCat(s->hostname, ":", port.number);
      if (!kept.count(OutboundClusterName(port.number, "", s->hostname))) {
        view.Warn(absl::StrCat("proxyless gRPC: ", route_config_name,
                               ": no cluster a gRPC client can use (resolution NONE or "
                               "PASSTHROUGH): no listener"));
        continue;
      }
      std::set<std::string> used_domains;
      route::VirtualHost vh = BuildVirtualHost(*s, port.number, view, used_domains);
      for (int i = 0; i < vh.routes_size(); ++i) {
        AdaptRoute(*vh.mutable_routes(i),
                   absl::StrCat("proxyless gRPC: ", vh.name(), " routes[", i, "]"), view);
      }
      route::RouteConfiguration rc;
      rc.set_name(route_config_name);
      *rc.add_virtual_hosts() = std::move(vh);
      out.route_configs.push_back(std::move(rc));
      for (const std::string& name : ServiceHostNames(*s, view)) {
        const std::string listener_name = absl::StrCat(name, ":", port.number);
        // Names are unique per view except for odd ServiceEntry hosts ("a.b" next to service
        // "a" of namespace "b"): the first keeps it.
        if (listener_names.insert(listener_name).second) {
          out.listeners.push_back(ApiListener(listener_name, route_config_name));
        }
      }
    }
  }
}

}  // namespace weft::control::translate::internal
