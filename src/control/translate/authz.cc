// AuthorizationPolicy -> Envoy RBAC on a sidecar's inbound chains, as Istio's authz builder does
// (pilot/pkg/security/authz/builder and model): one RBAC filter per action in Istio's order,
// AUDIT (RBAC LOG), DENY, ALLOW; each rule becomes a policy named
// "ns[<ns>]-policy[<name>]-rule[<i>]" whose principals come from `from` and the source `when`
// keys and whose permissions come from `to` and the destination `when` keys. An ALLOW filter
// exists as soon as one ALLOW policy selects the workload, so a request no rule matches is
// denied (and a policy without rules allows nothing). TCP chains get the network RBAC filter:
// HTTP-only fields make an ALLOW rule match nothing (dropped) and are removed from DENY/AUDIT
// rules (which then deny more), Istio's rule for TCP.
#include <regex>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"
#include "envoy/config/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/http/rbac/v3/rbac.pb.h"
#include "envoy/extensions/filters/network/rbac/v3/rbac.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace rbac = envoy::config::rbac::v3;
using envoy::type::matcher::v3::StringMatcher;

// Istio's metadata namespace for request authentication results (the JWT filter writes
// request.auth.principal, .audiences, .presenter, .claims there; contract section 6).
constexpr char kAuthnFilter[] = "istio_authn";

bool HasWildcardTemplate(const std::string& v) {
  return v.find("{*}") != std::string::npos || v.find("{**}") != std::string::npos;
}

// Istio's value conversion (pilot/pkg/security/authz/matcher/string.go): "*" is presence
// (regex ".+"), "*suffix" a suffix, "prefix*" a prefix (with `prefix` prepended), else exact.
StringMatcher Match(const std::string& v, const std::string& prefix = "") {
  StringMatcher m;
  if (v == "*") {
    m.mutable_safe_regex()->set_regex(".+");
  } else if (!v.empty() && v.front() == '*') {
    m.set_suffix(v.substr(1));
  } else if (!v.empty() && v.back() == '*') {
    m.set_prefix(prefix + v.substr(0, v.size() - 1));
  } else {
    m.set_exact(prefix + v);
  }
  return m;
}

std::string RegexQuote(const std::string& s) {
  static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(s, special, R"(\$&)");
}

// A namespace matched on the peer's SPIFFE id: ".*/ns/<ns>/.*" (Istio's namespace matcher),
// '*' at either end of the value matching within the namespace segment.
StringMatcher NamespaceMatch(const std::string& v) {
  std::string body;
  if (v == "*") {
    body = "[^/]+";
  } else if (!v.empty() && v.front() == '*') {
    body = "[^/]*" + RegexQuote(v.substr(1));
  } else if (!v.empty() && v.back() == '*') {
    body = RegexQuote(v.substr(0, v.size() - 1)) + "[^/]*";
  } else {
    body = RegexQuote(v);
  }
  StringMatcher m;
  m.mutable_safe_regex()->set_regex(".*/ns/" + body + "/.*");
  return m;
}

// Host matching on :authority, case-insensitive as Istio's host matcher.
envoy::config::route::v3::HeaderMatcher HostHeader(const std::string& v) {
  envoy::config::route::v3::HeaderMatcher h;
  h.set_name(":authority");
  if (v == "*") {
    h.set_present_match(true);
    return h;
  }
  *h.mutable_string_match() = Match(v);
  h.mutable_string_match()->set_ignore_case(true);
  return h;
}

envoy::config::route::v3::HeaderMatcher Header(const std::string& name, const std::string& v) {
  envoy::config::route::v3::HeaderMatcher h;
  h.set_name(name);
  if (v == "*") {
    h.set_present_match(true);
  } else {
    *h.mutable_string_match() = Match(v);
  }
  return h;
}

bool Cidr(const std::string& v, envoy::config::core::v3::CidrRange& out) {
  const size_t slash = v.find('/');
  const std::string ip = v.substr(0, slash);
  if (ip.empty()) return false;
  out.set_address_prefix(ip);
  if (slash == std::string::npos) {
    out.mutable_prefix_len()->set_value(ip.find(':') == std::string::npos ? 32 : 128);
  } else {
    uint32_t len = 0;
    for (char c : v.substr(slash + 1)) {
      if (c < '0' || c > '9') return false;
      len = len * 10 + static_cast<uint32_t>(c - '0');
    }
    out.mutable_prefix_len()->set_value(len);
  }
  return true;
}

rbac::Principal MetadataPrincipal(const std::vector<std::string>& path, const std::string& v,
                                  bool list) {
  rbac::Principal p;
  auto* m = p.mutable_metadata();
  m->set_filter(kAuthnFilter);
  for (const std::string& key : path) m->add_path()->set_key(key);
  if (list) {
    *m->mutable_value()->mutable_list_match()->mutable_one_of()->mutable_string_match() = Match(v);
  } else {
    *m->mutable_value()->mutable_string_match() = Match(v);
  }
  return p;
}

// The values of a field ORed; an empty list is nullopt (the field does not constrain).
template <typename T, typename F>
std::optional<T> AnyOf(const json& values, F&& one) {
  T out;
  std::vector<T> items;
  for (const json& v : values) {
    if (!v.is_string() && !v.is_number()) continue;
    std::optional<T> item = one(v.is_string() ? v.get<std::string>() : v.dump());
    if (item) items.push_back(std::move(*item));
  }
  if (items.empty()) return std::nullopt;
  if (items.size() == 1) return items[0];
  if constexpr (std::is_same_v<T, rbac::Principal>) {
    for (T& i : items) *out.mutable_or_ids()->add_ids() = std::move(i);
  } else {
    for (T& i : items) *out.mutable_or_rules()->add_rules() = std::move(i);
  }
  return out;
}

rbac::Principal NotP(rbac::Principal p) {
  rbac::Principal out;
  *out.mutable_not_id() = std::move(p);
  return out;
}
rbac::Permission NotR(rbac::Permission p) {
  rbac::Permission out;
  *out.mutable_not_rule() = std::move(p);
  return out;
}

rbac::Principal AndP(std::vector<rbac::Principal> items) {
  if (items.empty()) {
    rbac::Principal any;
    any.set_any(true);
    return any;
  }
  if (items.size() == 1) return items[0];
  rbac::Principal out;
  for (auto& i : items) *out.mutable_and_ids()->add_ids() = std::move(i);
  return out;
}
rbac::Permission AndR(std::vector<rbac::Permission> items) {
  if (items.empty()) {
    rbac::Permission any;
    any.set_any(true);
    return any;
  }
  if (items.size() == 1) return items[0];
  rbac::Permission out;
  for (auto& i : items) *out.mutable_and_rules()->add_rules() = std::move(i);
  return out;
}

// What one rule becomes, and whether it can be used at all.
struct RuleBuilder {
  const View& view;
  bool tcp;                // building the network filter: HTTP-only keys are dropped
  bool http_only = false;  // the rule had HTTP-only keys
  bool unsupported = false;
  std::string where;
  std::vector<rbac::Principal> principals;
  std::vector<rbac::Permission> permissions;

  // A field with `values` and `not_values` (Istio's `principals` / `notPrincipals` ...).
  template <typename T, typename F>
  void Field(std::vector<T>& into, const json& values, const json& not_values, F&& one) {
    if (auto any = AnyOf<T>(values, one)) into.push_back(std::move(*any));
    if (auto none = AnyOf<T>(not_values, one)) {
      if constexpr (std::is_same_v<T, rbac::Principal>) {
        into.push_back(NotP(std::move(*none)));
      } else {
        into.push_back(NotR(std::move(*none)));
      }
    }
  }
  bool HttpOnly(const json& values, const json& not_values) {
    if (values.empty() && not_values.empty()) return false;
    http_only = true;
    return tcp;  // true: skip
  }

  rbac::Principal Source(const json& s) {
    std::vector<rbac::Principal> ids;
    // Istio's principals omit the scheme; the peer's URI SAN carries it.
    const std::string td = "spiffe://";
    Field(ids, Arr(s, "principals"), Arr(s, "notPrincipals"), [&](const std::string& v) {
      rbac::Principal p;
      *p.mutable_authenticated()->mutable_principal_name() = Match(v, td);
      return std::optional(p);
    });
    Field(ids, Arr(s, "namespaces"), Arr(s, "notNamespaces"), [&](const std::string& v) {
      rbac::Principal p;
      *p.mutable_authenticated()->mutable_principal_name() = NamespaceMatch(v);
      return std::optional(p);
    });
    Field(ids, Arr(s, "ipBlocks"), Arr(s, "notIpBlocks"),
          [&](const std::string& v) { return Ip(v, false); });
    Field(ids, Arr(s, "remoteIpBlocks"), Arr(s, "notRemoteIpBlocks"),
          [&](const std::string& v) { return Ip(v, true); });
    if (!HttpOnly(Arr(s, "requestPrincipals"), Arr(s, "notRequestPrincipals"))) {
      Field(ids, Arr(s, "requestPrincipals"), Arr(s, "notRequestPrincipals"),
            [&](const std::string& v) {
              return std::optional(MetadataPrincipal({"request.auth.principal"}, v, false));
            });
    }
    return AndP(std::move(ids));
  }

  std::optional<rbac::Principal> Ip(const std::string& v, bool remote) {
    rbac::Principal p;
    if (!Cidr(v, remote ? *p.mutable_remote_ip() : *p.mutable_direct_remote_ip())) {
      view.Warn(absl::StrCat(where, ": bad IP block '", v, "' (ignored)"));
      return std::nullopt;
    }
    return p;
  }

  rbac::Permission Operation(const json& o) {
    std::vector<rbac::Permission> rules;
    if (!HttpOnly(Arr(o, "hosts"), Arr(o, "notHosts"))) {
      Field(rules, Arr(o, "hosts"), Arr(o, "notHosts"), [](const std::string& v) {
        rbac::Permission p;
        *p.mutable_header() = HostHeader(v);
        return std::optional(p);
      });
    }
    Field(rules, Arr(o, "ports"), Arr(o, "notPorts"), [&](const std::string& v) {
      rbac::Permission p;
      const std::string& digits = v;
      char* end = nullptr;
      const unsigned long port = std::strtoul(digits.c_str(), &end, 10);
      if (digits.empty() || *end != '\0' || port == 0 || port > 65535) {
        view.Warn(absl::StrCat(where, ": bad port '", v, "' (ignored)"));
        return std::optional<rbac::Permission>();
      }
      p.set_destination_port(static_cast<uint32_t>(port));
      return std::optional(p);
    });
    if (!HttpOnly(Arr(o, "methods"), Arr(o, "notMethods"))) {
      Field(rules, Arr(o, "methods"), Arr(o, "notMethods"), [](const std::string& v) {
        rbac::Permission p;
        *p.mutable_header() = Header(":method", v);
        return std::optional(p);
      });
    }
    if (!HttpOnly(Arr(o, "paths"), Arr(o, "notPaths"))) {
      Field(rules, Arr(o, "paths"), Arr(o, "notPaths"), [&](const std::string& v) {
        if (HasWildcardTemplate(v)) {
          // Istio 1.22's path templates ({*}, {**}) need Envoy's uri_template matcher.
          view.Warn(absl::StrCat(where, ": path template '", v, "': not supported yet"));
          unsupported = true;
          return std::optional<rbac::Permission>();
        }
        rbac::Permission p;
        *p.mutable_url_path()->mutable_path() = Match(v);
        return std::optional(p);
      });
    }
    return AndR(std::move(rules));
  }

  // One `when` condition: source keys go to principals, destination keys to permissions.
  void Condition(const json& c) {
    const std::string key = Str(c, "key");
    const json& values = Arr(c, "values");
    const json& not_values = Arr(c, "notValues");
    auto principal = [&](auto&& one) { Field(principals, values, not_values, one); };
    auto permission = [&](auto&& one) { Field(permissions, values, not_values, one); };
    if (key == "source.ip") {
      principal([&](const std::string& v) { return Ip(v, false); });
    } else if (key == "remote.ip") {
      principal([&](const std::string& v) { return Ip(v, true); });
    } else if (key == "source.namespace") {
      principal([](const std::string& v) {
        rbac::Principal p;
        *p.mutable_authenticated()->mutable_principal_name() = NamespaceMatch(v);
        return std::optional(p);
      });
    } else if (key == "source.principal") {
      principal([](const std::string& v) {
        rbac::Principal p;
        *p.mutable_authenticated()->mutable_principal_name() = Match(v, "spiffe://");
        return std::optional(p);
      });
    } else if (key == "destination.ip") {
      permission([&](const std::string& v) {
        rbac::Permission p;
        if (!Cidr(v, *p.mutable_destination_ip())) return std::optional<rbac::Permission>();
        return std::optional(p);
      });
    } else if (key == "destination.port") {
      permission([](const std::string& v) {
        rbac::Permission p;
        p.set_destination_port(static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10)));
        return std::optional(p);
      });
    } else if (key == "connection.sni") {
      permission([](const std::string& v) {
        rbac::Permission p;
        *p.mutable_requested_server_name() = Match(v);
        return std::optional(p);
      });
    } else if (key.rfind("request.", 0) == 0) {
      if (HttpOnly(values, not_values)) return;
      static const std::regex header(R"(request\.headers\[([^\]]+)\])");
      static const std::regex claim(R"(request\.auth\.claims\[([^\]]+)\])");
      std::smatch m;
      if (std::regex_match(key, m, header)) {
        const std::string name = m[1];
        principal([&](const std::string& v) {
          rbac::Principal p;
          *p.mutable_header() = Header(name, v);
          return std::optional(p);
        });
      } else if (std::regex_match(key, m, claim)) {
        // Nested claims are written "claims[a][b]" in Istio; the path follows the brackets.
        std::vector<std::string> path = {"request.auth.claims"};
        std::string rest = m[1];
        for (size_t pos; (pos = rest.find("][")) != std::string::npos; rest = rest.substr(pos + 2))
          path.push_back(rest.substr(0, pos));
        path.push_back(rest);
        principal(
            [&](const std::string& v) { return std::optional(MetadataPrincipal(path, v, true)); });
      } else if (key == "request.auth.principal" || key == "request.auth.presenter") {
        principal([&](const std::string& v) {
          return std::optional(MetadataPrincipal({key}, v, false));
        });
      } else if (key == "request.auth.audiences") {
        principal(
            [&](const std::string& v) { return std::optional(MetadataPrincipal({key}, v, true)); });
      } else {
        view.Warn(absl::StrCat(where, ": when key '", key, "': not supported"));
        unsupported = true;
      }
    } else {
      view.Warn(absl::StrCat(where, ": when key '", key, "': not supported"));
      unsupported = true;
    }
  }
};

// The rule as an RBAC policy, or nullopt when it cannot be expressed for this chain.
std::optional<rbac::Policy> BuildPolicy(const View& view, const json& rule, bool tcp, bool allow,
                                        const std::string& where) {
  RuleBuilder b{view, tcp};
  b.where = where;
  std::vector<rbac::Principal> sources;
  for (const json& from : Arr(rule, "from")) sources.push_back(b.Source(Obj(from, "source")));
  std::vector<rbac::Permission> operations;
  for (const json& to : Arr(rule, "to")) operations.push_back(b.Operation(Obj(to, "operation")));
  for (const json& c : Arr(rule, "when")) b.Condition(c);
  // A rule with HTTP-only fields allows nothing on TCP (Istio drops it from ALLOW policies).
  if (b.unsupported || (tcp && allow && b.http_only)) return std::nullopt;
  if (!sources.empty()) {
    rbac::Principal any_source;
    if (sources.size() == 1) {
      any_source = std::move(sources[0]);
    } else {
      for (auto& s : sources) *any_source.mutable_or_ids()->add_ids() = std::move(s);
    }
    b.principals.insert(b.principals.begin(), std::move(any_source));
  }
  if (!operations.empty()) {
    rbac::Permission any_operation;
    if (operations.size() == 1) {
      any_operation = std::move(operations[0]);
    } else {
      for (auto& o : operations) *any_operation.mutable_or_rules()->add_rules() = std::move(o);
    }
    b.permissions.insert(b.permissions.begin(), std::move(any_operation));
  }
  rbac::Policy policy;
  *policy.add_permissions() = AndR(std::move(b.permissions));
  *policy.add_principals() = AndP(std::move(b.principals));
  return policy;
}

// The RBAC rules of all policies with `action`; nullopt when no policy has that action.
std::optional<rbac::RBAC> RulesFor(const View& view, const std::string& action, bool tcp) {
  std::optional<rbac::RBAC> out;
  for (const Config& ap : view.authorization_policies()) {
    const std::string a = Str(ap.spec, "action").empty() ? "ALLOW" : Str(ap.spec, "action");
    if (a != action) continue;
    if (ap.spec.contains("targetRef") || ap.spec.contains("targetRefs")) {
      view.Warn(absl::StrCat(ap.Id(), ": targetRef(s): not supported (policy skipped)"));
      continue;
    }
    if (!out) {
      out.emplace();
      out->set_action(action == "ALLOW"  ? rbac::RBAC::ALLOW
                      : action == "DENY" ? rbac::RBAC::DENY
                                         : rbac::RBAC::LOG);
    }
    const json& rules = Arr(ap.spec, "rules");
    for (size_t i = 0; i < rules.size(); ++i) {
      const std::string name =
          absl::StrCat("ns[", ap.namespace_, "]-policy[", ap.name, "]-rule[", i, "]");
      auto policy = BuildPolicy(view, rules[i], tcp, action == "ALLOW",
                                absl::StrCat(ap.Id(), ": rules[", i, "]"));
      if (policy) (*out->mutable_policies())[name] = std::move(*policy);
    }
  }
  return out;
}

// Istio's order of the RBAC filters (builder.go: audit, (custom), deny, allow).
constexpr const char* kActions[] = {"AUDIT", "DENY", "ALLOW"};

}  // namespace

void AddInboundHttpSecurityFilters(
    const View& view,
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& m) {
  AddJwtAuthn(view, m);
  for (const char* action : kActions) {
    auto rules = RulesFor(view, action, false);
    if (!rules) continue;
    envoy::extensions::filters::http::rbac::v3::RBAC config;
    *config.mutable_rules() = std::move(*rules);
    auto* f = m.add_http_filters();
    f->set_name("envoy.filters.http.rbac");
    f->mutable_typed_config()->PackFrom(config);
  }
}

void AddInboundNetworkRbac(const View& view, envoy::config::listener::v3::FilterChain& chain) {
  for (const char* action : kActions) {
    auto rules = RulesFor(view, action, true);
    if (!rules) continue;
    envoy::extensions::filters::network::rbac::v3::RBAC config;
    // Istio's stat prefix for the network filter ("tcp.": rbac.go,
    // authzmodel.RBACTCPFilterStatPrefix).
    config.set_stat_prefix("tcp.");
    *config.mutable_rules() = std::move(*rules);
    SetNetworkFilter(chain, config, "envoy.filters.network.rbac");
  }
}

}  // namespace weft::control::translate::internal
