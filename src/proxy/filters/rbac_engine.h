// Envoy's RBAC engine (envoy/config/rbac/v3/rbac.proto), shared by the HTTP filter
// (envoy.filters.http.rbac) and the network filter (envoy.filters.network.rbac).
//
// A policy matches a request when ANY of its permissions matches (what is asked) AND ANY of its
// principals matches (who asks). The action then decides:
//   ALLOW: the request is allowed iff some policy matches (so no policies = deny everything);
//   DENY:  the request is denied iff some policy matches (no policies = allow everything);
//   LOG:   always allowed; a match only marks the request for the access log.
// Policies are compiled once on the main thread into an immutable tree of matchers shared by the
// workers; evaluating one allocates nothing (request fields are borrowed, IPs parsed in place).
//
// Thread-safety: an RbacEngine is immutable and shared; an RbacRequest is one worker's.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/cidr.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/router/route_config.h"

namespace weft::http {
class HeaderMap;
}
namespace weft::network {
struct Address;
}

namespace weft::rbac {

// Addresses and CIDR ranges as the matchers compare them (network/cidr.h).
using IpPort = network::IpPort;
using Cidr = network::Cidr;

// What the matchers look at. HTTP fills every field; the network filter has no headers.
struct RbacRequest {
  const http::HeaderMap* headers = nullptr;  // request headers (":path", ":method" included)
  IpPort direct_remote;                      // the socket's peer: source_ip, direct_remote_ip
  IpPort remote;                             // after XFF trust: remote_ip
  IpPort local;                              // destination_ip / destination_port
  std::string_view requested_server_name;    // SNI
  std::string_view peer_principal;           // the peer certificate's URI SAN (spiffe://...)
  // Envoy's dynamic metadata (filter namespace -> key -> values), or nullptr.
  const decltype(access_log::StreamInfo::dynamic_metadata)* dynamic_metadata = nullptr;
};

// One node of a permission or principal tree.
class Matcher {
 public:
  virtual ~Matcher() = default;
  virtual bool Matches(const RbacRequest& request) const = 0;
};
using MatcherPtr = std::unique_ptr<const Matcher>;

// Builders of the nodes, used by the config translation.
MatcherPtr MatchAny();
MatcherPtr MatchAnd(std::vector<MatcherPtr> children);
MatcherPtr MatchOr(std::vector<MatcherPtr> children);
MatcherPtr MatchNot(MatcherPtr child);
MatcherPtr MatchHeader(router::HeaderMatcher matcher);
// url_path: the :path without its query string (Envoy's PathMatcher).
MatcherPtr MatchUrlPath(router::StringMatcher matcher);
enum class IpSource { kDirectRemote, kRemote, kLocal };
MatcherPtr MatchIp(IpSource source, Cidr cidr);
MatcherPtr MatchDestinationPort(uint32_t port);
MatcherPtr MatchDestinationPortRange(uint32_t start, uint32_t end_exclusive);
MatcherPtr MatchRequestedServerName(router::StringMatcher matcher);
// authenticated: principal_name against the peer's URI SAN. Without a matcher, any
// authenticated peer (one with a verified certificate SAN) matches.
MatcherPtr MatchAuthenticated(std::optional<router::StringMatcher> principal_name);

// envoy.type.matcher.v3.MetadataMatcher on the dynamic metadata as StreamInfo keeps it: the path
// segments joined by "." name the key inside the filter namespace (Istio's JWT metadata:
// filter "istio_authn", path [request.auth.claims, groups] -> "request.auth.claims.groups").
struct MetadataValueMatch {
  enum class Kind { kString, kListOneOf, kPresent };
  Kind kind = Kind::kString;
  router::StringMatcher string_match;  // kString, kListOneOf
  bool present = true;                 // kPresent
};
MatcherPtr MatchMetadata(std::string filter, std::string key, MetadataValueMatch value,
                         bool invert);

struct Policy {
  std::string name;
  std::vector<MatcherPtr> permissions;  // any of them
  std::vector<MatcherPtr> principals;   // any of them
};

enum class Action { kAllow, kDeny, kLog };

class RbacEngine {
 public:
  // `policies` are evaluated in name order (the policy reported as matched is the first by name).
  RbacEngine(Action action, std::vector<Policy> policies);

  struct Result {
    bool allowed = true;
    const std::string* matched_policy = nullptr;  // nullptr: no policy matched
  };
  Result Evaluate(const RbacRequest& request) const;
  Action action() const { return action_; }

 private:
  Action action_;
  std::vector<Policy> policies_;
};

// A filter's rules and shadow rules (both optional: no rules = the filter enforces nothing) and
// the full names of the stats it counts. Also the per-route override (RBACPerRoute): a route
// whose RBACPerRoute has no `rbac` gets a config without rules, which enforces nothing.
struct RbacConfig : router::RouteFilterConfig {
  std::shared_ptr<const RbacEngine> rules;
  std::shared_ptr<const RbacEngine> shadow_rules;
  std::string allowed_stat, denied_stat, shadow_allowed_stat, shadow_denied_stat;
  std::string logged_stat, not_logged_stat;
};

// Fills the stat names of `config` under `prefix` (e.g. "http.ingress.rbac." + rules prefix).
void SetRbacStatNames(RbacConfig& config, std::string_view prefix,
                      std::string_view rules_stat_prefix, std::string_view shadow_stat_prefix);

}  // namespace weft::rbac
