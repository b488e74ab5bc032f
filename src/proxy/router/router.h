// The route table the connection manager consults once per request: from ":authority" to a
// virtual host, from the request to the first matching route, and from a weighted route to one
// cluster. Built once per RouteConfiguration on the main thread (Create), then shared immutably
// by every worker: all lookups are const, lock-free and allocation-free for hosts up to 255
// bytes.
//
// Virtual host selection (Envoy's RouteMatcher::findVirtualHost, plus a port fallback). The
// authority is lower-cased (domains are case-insensitive; configured domains are lower-cased at
// build time) and looked up in this order:
//   1. an exact domain ("a.com", or "a.com:8080");
//   2. the longest suffix wildcard ("*-bar.a.com" before "*.a.com"); the wildcard must match at
//      least one character, so "*.a.com" does not match ".a.com";
//   3. the longest prefix wildcard ("foo.bar.*" before "foo.*");
//   4. if the authority carries a port ("a.com:8080", "[::1]:8080") and steps 1-3 found nothing,
//      steps 1-3 again with the port removed ("a.com", "[::1]") — so a domain written without a
//      port also serves requests that name a port;
//   5. the "*" virtual host, if any; else no virtual host (the caller answers 404, flag NR).
// A domain listed twice (across virtual hosts) or two "*" hosts are refused by Create.
//
// Route selection: the virtual host's routes in order, first match wins (route_matcher.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "http/header_map.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/router/header_mutation.h"
#include "proxy/router/route_config.h"

namespace weft::router {

struct VirtualHostEntry;

// A route plus what the table precomputed for it.
struct RouteEntry {
  const Route* route = nullptr;
  const VirtualHostEntry* virtual_host = nullptr;
  HeaderMutator headers;
  std::vector<HeaderMutator> weighted_cluster_headers;  // parallel to weighted_clusters

  const RouteAction* action() const { return std::get_if<RouteAction>(&route->action); }
  const RedirectAction* redirect() const { return std::get_if<RedirectAction>(&route->action); }
  const DirectResponseAction* direct_response() const {
    return std::get_if<DirectResponseAction>(&route->action);
  }
};

struct VirtualHostEntry {
  const VirtualHost* config = nullptr;
  HeaderMutator headers;
  std::vector<RouteEntry> routes;
};

class RouteTable {
 public:
  static absl::StatusOr<std::shared_ptr<const RouteTable>> Create(
      std::shared_ptr<const RouteConfiguration> config);

  // Virtual host for an authority (see the file comment); nullptr if none.
  const VirtualHostEntry* FindVirtualHost(std::string_view authority) const;

  // First route of `virtual_host` matching the request; nullptr if none.
  const RouteEntry* FindRoute(const VirtualHostEntry& virtual_host,
                              const http::HeaderMap& request) const;

  // Both steps, with ":authority" (or "host" when absent) from the request.
  const RouteEntry* Route(const http::HeaderMap& request) const;

  // Weighted clusters: `random` is reduced modulo total_weight, and the cluster whose cumulative
  // weight range holds it is picked (so 0..total_weight-1 picks deterministically in tests).
  // Returns the index into action.weighted_clusters, or -1 if the route has none.
  static int PickWeightedCluster(const RouteAction& action, uint64_t random);

  // Header mutations of every level for this route (and picked weighted cluster, or -1), in the
  // order and precedence of header_mutation.h.
  void ApplyRequestHeaderMutations(const RouteEntry& entry, int weighted_cluster,
                                   http::HeaderMap& headers,
                                   const access_log::StreamInfo& info) const;
  void ApplyResponseHeaderMutations(const RouteEntry& entry, int weighted_cluster,
                                    http::HeaderMap& headers,
                                    const access_log::StreamInfo& info) const;

  const RouteConfiguration& config() const { return *config_; }

 private:
  RouteTable() = default;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using DomainMap =
      std::unordered_map<std::string, const VirtualHostEntry*, StringHash, std::equal_to<>>;
  // Wildcards grouped by the length of their fixed part, longest first.
  struct WildcardGroup {
    size_t length;
    DomainMap hosts;  // fixed part: ".a.com" for "*.a.com", "foo." for "foo.*"
  };

  const VirtualHostEntry* FindWithoutDefault(std::string_view host) const;
  template <typename Accessor>
  static const VirtualHostEntry* FindWildcard(const std::vector<WildcardGroup>& groups,
                                              std::string_view host, Accessor fixed_part);

  std::shared_ptr<const RouteConfiguration> config_;
  std::vector<VirtualHostEntry> virtual_hosts_;
  HeaderMutator config_headers_;
  DomainMap exact_;
  std::vector<WildcardGroup> suffix_wildcards_;
  std::vector<WildcardGroup> prefix_wildcards_;
  const VirtualHostEntry* default_ = nullptr;
};

// Where the port starts in an authority (the ':'), or npos: "a.com:80" -> 5, "[::1]:80" -> 5,
// "[::1]" and bare IPv6 -> npos.
size_t AuthorityPortStart(std::string_view authority);

}  // namespace weft::router
