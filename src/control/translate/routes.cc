// VirtualService (http) -> RouteConfigurations: one per HTTP port ("9080"), one virtual host per
// service on that port, routes from the service's VirtualService or a default route.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "control/translate/internal.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace route = envoy::config::route::v3;
namespace cors_pb = envoy::extensions::filters::http::cors::v3;
namespace fault_pb = envoy::extensions::filters::http::fault::v3;
using envoy::type::matcher::v3::StringMatcher;

constexpr char kFaultFilter[] = "envoy.filters.http.fault";
constexpr char kCorsFilter[] = "envoy.filters.http.cors";
// Istio's default retry policy, used when a route sets no `retries`.
constexpr char kDefaultRetryOn[] =
    "connect-failure,refused-stream,unavailable,cancelled,"
    "retriable-status-codes";

// Istio's virtual host domains: ServiceHostNames, each also with ":<port>"; and each VIP with the
// port (with capture: every VIP, allocated ones included, with and without the port).
std::vector<std::string> Domains(const Service& s, uint32_t port, const View& view) {
  std::vector<std::string> out;
  for (const std::string& n : ServiceHostNames(s, view)) {
    out.push_back(n);
    out.push_back(absl::StrCat(n, ":", port));
  }
  if (view.proxy().capture) {
    // A captured client that dialled the VIP (from the proxy's DNS answer) sends it as Host,
    // with or without the port.
    for (const std::string& vip : ServiceVips(s)) {
      out.push_back(vip);
      out.push_back(absl::StrCat(vip, ":", port));
    }
    return out;
  }
  for (const std::string& vip : s.addresses) {
    if (vip.find('/') == std::string::npos) out.push_back(absl::StrCat(vip, ":", port));
  }
  return out;
}

// Istio StringMatch {exact | prefix | regex} -> Envoy StringMatcher; false if empty.
bool ToStringMatcher(const json& m, StringMatcher& out) {
  if (m.contains("exact")) {
    out.set_exact(Str(m, "exact"));
  } else if (m.contains("prefix")) {
    out.set_prefix(Str(m, "prefix"));
  } else if (m.contains("regex")) {
    out.mutable_safe_regex()->set_regex(Str(m, "regex"));
  } else {
    return false;
  }
  return true;
}

void AddHeaderMatch(const std::string& name, const json& m, bool invert, route::RouteMatch& out) {
  auto* h = out.add_headers();
  h->set_name(absl::AsciiStrToLower(name));
  if (!ToStringMatcher(m, *h->mutable_string_match())) {
    h->clear_string_match();
    h->set_present_match(true);
  }
  if (invert) h->set_invert_match(true);
}

route::RouteMatch TranslateMatch(const json& m) {
  route::RouteMatch out;
  const json& uri = Obj(m, "uri");
  if (uri.contains("exact")) {
    out.set_path(Str(uri, "exact"));
  } else if (uri.contains("prefix")) {
    out.set_prefix(Str(uri, "prefix"));
  } else if (uri.contains("regex")) {
    out.mutable_safe_regex()->set_regex(Str(uri, "regex"));
  } else {
    out.set_prefix("/");
  }
  if (m.value("ignoreUriCase", false)) out.mutable_case_sensitive()->set_value(false);
  for (const auto& [name, value] : Obj(m, "headers").items()) {
    AddHeaderMatch(name, value, false, out);
  }
  for (const auto& [name, value] : Obj(m, "withoutHeaders").items()) {
    AddHeaderMatch(name, value, true, out);
  }
  if (const json& method = Obj(m, "method"); !method.empty())
    AddHeaderMatch(":method", method, false, out);
  if (const json& a = Obj(m, "authority"); !a.empty()) AddHeaderMatch(":authority", a, false, out);
  if (const json& s = Obj(m, "scheme"); !s.empty()) AddHeaderMatch(":scheme", s, false, out);
  for (const auto& [name, value] : Obj(m, "queryParams").items()) {
    auto* q = out.add_query_parameters();
    q->set_name(name);
    if (!ToStringMatcher(value, *q->mutable_string_match())) {
      q->clear_string_match();
      q->set_present_match(true);
    }
  }
  return out;
}

// Whether an HTTPMatchRequest can apply to this proxy on this port.
bool MatchApplies(const json& m, uint32_t port, const View& view) {
  if (m.contains("port") && m["port"].is_number() && m["port"].get<uint32_t>() != port) {
    return false;
  }
  if (const json& src = Obj(m, "sourceLabels"); !src.empty()) {
    if (!LabelsMatch(LabelsFromJson(src), view.proxy().labels)) return false;
  }
  if (const std::string ns = Str(m, "sourceNamespace"); !ns.empty()) {
    if (ns != view.proxy().namespace_) return false;
  }
  if (const json& gws = Arr(m, "gateways"); !gws.empty()) {
    if (std::find(gws.begin(), gws.end(), json("mesh")) == gws.end()) return false;
  }
  return true;
}

void AddHeaderOperations(const json& ops, bool request, route::Route& r) {
  using HVO = envoy::config::core::v3::HeaderValueOption;
  auto add = [&](const json& kv, HVO::HeaderAppendAction action) {
    for (const auto& [k, v] : kv.items()) {
      HVO* o = request ? r.add_request_headers_to_add() : r.add_response_headers_to_add();
      o->mutable_header()->set_key(k);
      o->mutable_header()->set_value(v.is_string() ? v.get<std::string>() : v.dump());
      o->set_append_action(action);
    }
  };
  add(Obj(ops, "set"), HVO::OVERWRITE_IF_EXISTS_OR_ADD);
  add(Obj(ops, "add"), HVO::APPEND_IF_EXISTS_OR_ADD);
  for (const json& name : Arr(ops, "remove")) {
    if (!name.is_string()) continue;
    (request ? r.add_request_headers_to_remove() : r.add_response_headers_to_remove())
        ->assign(name.get<std::string>());
  }
}

void SetRetryHostPredicate(route::RetryPolicy& p) {
  auto* pred = p.add_retry_host_predicate();
  pred->set_name("envoy.retry_host_predicates.previous_hosts");
  pred->mutable_typed_config()->PackFrom(
      envoy::extensions::retry::host::previous_hosts::v3::PreviousHostsPredicate());
  p.set_host_selection_retry_max_attempts(5);
}

// Istio's retries -> Envoy's RetryPolicy; nullopt when retries are off (attempts: 0).
std::optional<route::RetryPolicy> RetryPolicyOf(const json& http, const View& view,
                                                const std::string& where) {
  route::RetryPolicy p;
  SetRetryHostPredicate(p);
  if (!http.contains("retries")) {
    p.set_retry_on(kDefaultRetryOn);
    p.mutable_num_retries()->set_value(2);
    p.add_retriable_status_codes(503);
    return p;
  }
  const json& r = Obj(http, "retries");
  const uint32_t attempts =
      r.contains("attempts") && r["attempts"].is_number() ? r["attempts"].get<uint32_t>() : 2;
  if (attempts == 0) return std::nullopt;
  p.mutable_num_retries()->set_value(attempts);
  const std::string retry_on = Str(r, "retryOn");
  if (retry_on.empty()) {
    p.set_retry_on(kDefaultRetryOn);
    p.add_retriable_status_codes(503);
  } else {
    // Numbers in retryOn are status codes (Istio's extension of Envoy's list).
    std::vector<std::string> policies;
    bool codes = false;
    for (absl::string_view token : absl::StrSplit(retry_on, ',', absl::SkipWhitespace())) {
      const std::string t(absl::StripAsciiWhitespace(token));
      uint32_t code = 0;
      if (absl::SimpleAtoi(t, &code)) {
        p.add_retriable_status_codes(code);
        codes = true;
      } else if (std::find(policies.begin(), policies.end(), t) == policies.end()) {
        policies.push_back(t);
      }
    }
    if (codes &&
        std::find(policies.begin(), policies.end(), "retriable-status-codes") == policies.end()) {
      policies.push_back("retriable-status-codes");
    }
    p.set_retry_on(absl::StrJoin(policies, ","));
  }
  if (r.contains("perTryTimeout")) {
    if (auto d = ParseDuration(r["perTryTimeout"]); d) *p.mutable_per_try_timeout() = *d;
  }
  if (r.contains("retryRemoteLocalities")) {
    view.Warn(absl::StrCat(where, ".retries.retryRemoteLocalities: not supported (skipped)"));
  }
  return p;
}

// gRPC status names as Istio's grpcStatus spells them.
int GrpcCode(const std::string& name) {
  static const std::map<std::string, int> kCodes = {{"OK", 0},
                                                    {"CANCELLED", 1},
                                                    {"UNKNOWN", 2},
                                                    {"INVALID_ARGUMENT", 3},
                                                    {"DEADLINE_EXCEEDED", 4},
                                                    {"NOT_FOUND", 5},
                                                    {"ALREADY_EXISTS", 6},
                                                    {"PERMISSION_DENIED", 7},
                                                    {"RESOURCE_EXHAUSTED", 8},
                                                    {"FAILED_PRECONDITION", 9},
                                                    {"ABORTED", 10},
                                                    {"OUT_OF_RANGE", 11},
                                                    {"UNIMPLEMENTED", 12},
                                                    {"INTERNAL", 13},
                                                    {"UNAVAILABLE", 14},
                                                    {"DATA_LOSS", 15},
                                                    {"UNAUTHENTICATED", 16}};
  const auto it = kCodes.find(absl::AsciiStrToUpper(name));
  return it == kCodes.end() ? -1 : it->second;
}

void AddFault(const json& fault, route::Route& r, const View& view, const std::string& where) {
  fault_pb::HTTPFault f;
  if (const json& delay = Obj(fault, "delay"); !delay.empty()) {
    if (auto d = ParseDuration(delay.value("fixedDelay", json())); d) {
      *f.mutable_delay()->mutable_fixed_delay() = *d;
      *f.mutable_delay()->mutable_percentage() =
          PercentOf(delay.value("percentage", json()), delay.value("percent", json()));
    } else {
      view.Warn(absl::StrCat(where, ".fault.delay: only fixedDelay is supported (skipped)"));
    }
  }
  if (const json& abort = Obj(fault, "abort"); !abort.empty()) {
    auto* a = f.mutable_abort();
    if (abort.contains("httpStatus") && abort["httpStatus"].is_number()) {
      a->set_http_status(abort["httpStatus"].get<uint32_t>());
    } else if (const int code = GrpcCode(Str(abort, "grpcStatus")); code >= 0) {
      a->set_grpc_status(static_cast<uint32_t>(code));
    } else {
      view.Warn(absl::StrCat(where, ".fault.abort: needs httpStatus or grpcStatus (skipped)"));
      f.clear_abort();
    }
    if (f.has_abort()) {
      *a->mutable_percentage() =
          PercentOf(abort.value("percentage", json()), abort.value("percent", json()));
    }
  }
  if (f.has_delay() || f.has_abort()) {
    (*r.mutable_typed_per_filter_config())[kFaultFilter].PackFrom(f);
  }
}

// HTTPRoute.corsPolicy -> the cors filter's CorsPolicy on the route, as Istio's
// TranslateCORSPolicy does: lists joined with ",", maxAge in whole seconds, allowOrigins (or the
// deprecated allowOrigin, exact strings) as origin matchers; unmatchedPreflights IGNORE answers
// preflights from other origins instead of forwarding them.
void AddCors(const json& cors, route::Route& r, const View& view, const std::string& where) {
  cors_pb::CorsPolicy c;
  if (cors.contains("allowOrigins")) {
    const json& origins = Arr(cors, "allowOrigins");
    for (size_t i = 0; i < origins.size(); ++i) {
      StringMatcher m;
      if (ToStringMatcher(origins[i], m)) {
        *c.add_allow_origin_string_match() = std::move(m);
      } else {
        view.Warn(absl::StrCat(where, ".corsPolicy.allowOrigins[", i,
                               "]: needs exact, prefix or regex (skipped)"));
      }
    }
  } else {
    for (const json& origin : Arr(cors, "allowOrigin")) {
      if (origin.is_string())
        c.add_allow_origin_string_match()->set_exact(origin.get<std::string>());
    }
  }
  auto joined = [&](std::string_view key) {
    std::vector<std::string> items;
    for (const json& item : Arr(cors, key)) {
      if (item.is_string()) items.push_back(item.get<std::string>());
    }
    return absl::StrJoin(items, ",");
  };
  c.set_allow_methods(joined("allowMethods"));
  c.set_allow_headers(joined("allowHeaders"));
  c.set_expose_headers(joined("exposeHeaders"));
  if (auto d = ParseDuration(cors.value("maxAge", json())); d) {
    c.set_max_age(absl::StrCat(d->seconds()));
  }
  if (const json& creds = cors.value("allowCredentials", json()); creds.is_boolean()) {
    c.mutable_allow_credentials()->set_value(creds.get<bool>());
  }
  if (const std::string unmatched = Str(cors, "unmatchedPreflights"); unmatched == "FORWARD") {
    c.mutable_forward_not_matching_preflights()->set_value(true);
  } else if (unmatched == "IGNORE") {
    c.mutable_forward_not_matching_preflights()->set_value(false);
  }
  (*r.mutable_typed_per_filter_config())[kCorsFilter].PackFrom(c);
}

void AddMirror(const json& destination, const json& percentage, const std::string& ns,
               uint32_t port, route::RouteAction& action, const View& view,
               const std::string& where) {
  auto dest = ResolveDestination(view, destination, ns, port, absl::StrCat(where, ".mirror"));
  if (!dest || dest->service == nullptr) return;
  auto* m = action.add_request_mirror_policies();
  m->set_cluster(dest->cluster);
  *m->mutable_runtime_fraction()->mutable_default_value() = PercentOf(percentage, json());
  if (!percentage.is_object()) {
    // Istio mirrors everything unless mirrorPercentage says otherwise.
    m->mutable_runtime_fraction()->mutable_default_value()->set_numerator(1000000);
    m->mutable_runtime_fraction()->mutable_default_value()->set_denominator(
        envoy::type::v3::FractionalPercent::MILLION);
  }
}

// HTTPRoute.route[] -> the route's cluster or weighted_clusters (nullopt: nothing routable).
bool SetDestinations(const json& http, const Config& vs, uint32_t port, route::Route& r,
                     const View& view, const std::string& where) {
  auto* action = r.mutable_route();
  struct Weighted {
    Destination dest;
    uint32_t weight;
    const json* headers;
  };
  std::vector<Weighted> targets;
  const json& routes = Arr(http, "route");
  for (size_t i = 0; i < routes.size(); ++i) {
    const json& rd = routes[i];
    const uint32_t weight = rd.contains("weight") && rd["weight"].is_number()
                                ? rd["weight"].get<uint32_t>()
                                : (routes.size() == 1 ? 100 : 0);
    if (weight == 0 && routes.size() > 1) continue;
    auto dest = ResolveDestination(view, Obj(rd, "destination"), vs.namespace_, port,
                                   absl::StrCat(where, ".route[", i, "]"));
    if (!dest) continue;
    targets.push_back(Weighted{*dest, weight, &Obj(rd, "headers")});
  }
  if (targets.empty()) return false;
  if (targets.size() == 1) {
    action->set_cluster(targets[0].dest.cluster);
    AddHeaderOperations(Obj(*targets[0].headers, "request"), true, r);
    AddHeaderOperations(Obj(*targets[0].headers, "response"), false, r);
  } else {
    for (const Weighted& t : targets) {
      auto* c = action->mutable_weighted_clusters()->add_clusters();
      c->set_name(t.dest.cluster);
      c->mutable_weight()->set_value(t.weight);
      route::Route scratch;
      AddHeaderOperations(Obj(*t.headers, "request"), true, scratch);
      AddHeaderOperations(Obj(*t.headers, "response"), false, scratch);
      *c->mutable_request_headers_to_add() = scratch.request_headers_to_add();
      *c->mutable_request_headers_to_remove() = scratch.request_headers_to_remove();
      *c->mutable_response_headers_to_add() = scratch.response_headers_to_add();
      *c->mutable_response_headers_to_remove() = scratch.response_headers_to_remove();
    }
  }
  // The consistent-hash policy of the (first) destination's DestinationRule.
  AddHashPolicy(view, targets[0].dest, *action);
  return true;
}

std::optional<route::Route> TranslateHttpRoute(const json& http, const json& match,
                                               const Config& vs, uint32_t port, const View& view,
                                               const std::string& where) {
  route::Route r;
  *r.mutable_match() = TranslateMatch(match);
  std::string name = Str(http, "name");
  if (const std::string match_name = Str(match, "name"); !match_name.empty()) {
    name = name.empty() ? match_name : absl::StrCat(name, ".", match_name);
  }
  if (!name.empty()) r.set_name(name);

  if (const json& redirect = Obj(http, "redirect"); !redirect.empty()) {
    auto* rd = r.mutable_redirect();
    if (const std::string uri = Str(redirect, "uri"); !uri.empty()) rd->set_path_redirect(uri);
    if (const std::string a = Str(redirect, "authority"); !a.empty()) rd->set_host_redirect(a);
    if (const std::string s = Str(redirect, "scheme"); !s.empty()) rd->set_scheme_redirect(s);
    if (redirect.contains("port") && redirect["port"].is_number()) {
      rd->set_port_redirect(redirect["port"].get<uint32_t>());
    }
    switch (redirect.value("redirectCode", 301)) {
      case 302:
        rd->set_response_code(route::RedirectAction::FOUND);
        break;
      case 303:
        rd->set_response_code(route::RedirectAction::SEE_OTHER);
        break;
      case 307:
        rd->set_response_code(route::RedirectAction::TEMPORARY_REDIRECT);
        break;
      case 308:
        rd->set_response_code(route::RedirectAction::PERMANENT_REDIRECT);
        break;
      default:
        rd->set_response_code(route::RedirectAction::MOVED_PERMANENTLY);
        break;
    }
  } else if (const json& dr = Obj(http, "directResponse"); !dr.empty()) {
    r.mutable_direct_response()->set_status(dr.value("status", 200));
    if (const std::string body = Str(Obj(dr, "body"), "string"); !body.empty()) {
      r.mutable_direct_response()->mutable_body()->set_inline_string(body);
    }
  } else {
    if (http.contains("delegate")) {
      view.Warn(absl::StrCat(where, ".delegate: not supported (skipped)"));
      return std::nullopt;
    }
    if (!SetDestinations(http, vs, port, r, view, where)) return std::nullopt;
    auto* action = r.mutable_route();
    const json& rewrite = Obj(http, "rewrite");
    if (const std::string uri = Str(rewrite, "uri"); !uri.empty()) action->set_prefix_rewrite(uri);
    if (const std::string a = Str(rewrite, "authority"); !a.empty()) {
      action->set_host_rewrite_literal(a);
    }
    if (const json& rr = Obj(http, "rewrite").value("uriRegexRewrite", json()); rr.is_object()) {
      action->mutable_regex_rewrite()->mutable_pattern()->set_regex(Str(rr, "match"));
      action->mutable_regex_rewrite()->set_substitution(Str(rr, "rewrite"));
    }
    // Istio disables Envoy's 15s default route timeout unless the VirtualService sets one.
    google::protobuf::Duration timeout;
    if (auto d = ParseDuration(http.value("timeout", json())); d) timeout = *d;
    *action->mutable_timeout() = timeout;
    if (auto retry = RetryPolicyOf(http, view, where); retry) {
      *action->mutable_retry_policy() = std::move(*retry);
    }
    if (const json& mirror = Obj(http, "mirror"); !mirror.empty()) {
      AddMirror(mirror, http.value("mirrorPercentage", json()), vs.namespace_, port, *action, view,
                where);
    }
    for (const json& m : Arr(http, "mirrors")) {
      AddMirror(Obj(m, "destination"), m.value("percentage", json()), vs.namespace_, port, *action,
                view, where);
    }
    AddFault(Obj(http, "fault"), r, view, where);
  }
  const json& headers = Obj(http, "headers");
  AddHeaderOperations(Obj(headers, "request"), true, r);
  AddHeaderOperations(Obj(headers, "response"), false, r);
  if (http.contains("corsPolicy")) AddCors(Obj(http, "corsPolicy"), r, view, where);
  return r;
}

route::Route DefaultRoute(const Service& s, uint32_t port, const View& view) {
  route::Route r;
  r.set_name("default");
  r.mutable_match()->set_prefix("/");
  auto* action = r.mutable_route();
  action->set_cluster(OutboundClusterName(port, "", s.hostname));
  action->mutable_timeout();  // 0s: no route timeout, as Istio
  *action->mutable_retry_policy() = *RetryPolicyOf(json::object(), view, "");
  return r;
}

}  // namespace

std::vector<std::string> ServiceHostNames(const Service& s, const View& view) {
  std::vector<std::string> names = {s.hostname};
  const std::string suffix = absl::StrCat(
      ".", s.namespace_, ".", absl::string_view(kDomainSuffix.data(), kDomainSuffix.size()));
  if (absl::EndsWith(s.hostname, suffix)) {
    const std::string name = s.hostname.substr(0, s.hostname.size() - suffix.size());
    if (view.proxy().namespace_ == s.namespace_) names.push_back(name);
    names.push_back(absl::StrCat(name, ".", s.namespace_));
    names.push_back(absl::StrCat(name, ".", s.namespace_, ".svc"));
  }
  return names;
}

route::VirtualHost BuildVirtualHost(const Service& s, uint32_t port, const View& view,
                                    std::set<std::string>& used_domains) {
  route::VirtualHost vh;
  vh.set_name(absl::StrCat(s.hostname, ":", port));
  for (const std::string& d : Domains(s, port, view)) {
    if (used_domains.insert(d).second) vh.add_domains(d);
  }
  const Config* vs = view.VirtualServiceFor(s);
  if (vs == nullptr) {
    *vh.add_routes() = DefaultRoute(s, port, view);
    return vh;
  }
  const json& http = Arr(vs->spec, "http");
  for (size_t i = 0; i < http.size(); ++i) {
    const std::string where = absl::StrCat(vs->Id(), ": http[", i, "]");
    const json& matches = Arr(http[i], "match");
    if (matches.empty()) {
      if (auto r = TranslateHttpRoute(http[i], json::object(), *vs, port, view, where); r) {
        *vh.add_routes() = std::move(*r);
      }
      continue;
    }
    for (const json& m : matches) {
      if (!MatchApplies(m, port, view)) continue;
      if (auto r = TranslateHttpRoute(http[i], m, *vs, port, view, where); r) {
        *vh.add_routes() = std::move(*r);
      }
    }
  }
  if (vh.routes_size() == 0 && !Arr(vs->spec, "http").empty()) {
    // No rule applies to this proxy: Istio falls back to the service's default route.
    *vh.add_routes() = DefaultRoute(s, port, view);
  }
  return vh;
}

void BuildRouteConfigs(const View& view, XdsResources& out) {
  std::map<uint32_t, std::vector<const Service*>> by_port;
  for (const Service* s : view.services()) {
    if (s->hostname.find('*') != std::string::npos) continue;
    for (const ServicePort& p : s->ports) {
      if (IsHttpProtocol(PortProtocol(p))) by_port[p.number].push_back(s);
    }
  }
  for (const auto& [port, services] : by_port) {
    route::RouteConfiguration rc;
    rc.set_name(absl::StrCat(port));
    std::set<std::string> used_domains;
    for (const Service* s : services) {
      route::VirtualHost vh = BuildVirtualHost(*s, port, view, used_domains);
      if (vh.domains_size() > 0) *rc.add_virtual_hosts() = std::move(vh);
    }
    // Traffic to hosts outside the registry: Istio's ALLOW_ANY / REGISTRY_ONLY.
    auto* any = rc.add_virtual_hosts();
    any->set_name(view.registry_only() ? "block_all" : "allow_any");
    any->add_domains("*");
    auto* r = any->add_routes();
    r->set_name(view.registry_only() ? "block_all" : "allow_any");
    r->mutable_match()->set_prefix("/");
    if (view.registry_only()) {
      r->mutable_direct_response()->set_status(502);
    } else {
      r->mutable_route()->set_cluster(kPassthroughCluster);
      r->mutable_route()->mutable_timeout();
    }
    out.route_configs.push_back(std::move(rc));
  }
}

}  // namespace weft::control::translate::internal
