#include "proxy/router/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "proxy/router/route_matcher.h"

namespace weft::router {

size_t AuthorityPortStart(std::string_view authority) {
  size_t colon;
  if (!authority.empty() && authority[0] == '[') {
    colon = authority.rfind("]:");
    if (colon == std::string_view::npos) return colon;
    colon += 1;
  } else {
    colon = authority.find(':');
    if (colon == std::string_view::npos ||
        authority.find(':', colon + 1) != std::string_view::npos) {
      return std::string_view::npos;  // no port, or an unbracketed IPv6 literal
    }
  }
  if (colon + 1 >= authority.size()) return std::string_view::npos;
  for (size_t i = colon + 1; i < authority.size(); ++i) {
    if (authority[i] < '0' || authority[i] > '9') return std::string_view::npos;
  }
  return colon;
}

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::Create(
    std::shared_ptr<const RouteConfiguration> config) {
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->config_ = std::move(config);
  const RouteConfiguration& rc = *table->config_;

  auto config_headers = HeaderMutator::Compile(rc.headers);
  if (!config_headers.ok()) return config_headers.status();
  table->config_headers_ = *std::move(config_headers);

  // Compile every level first; pointers into the vectors are taken once they stop moving.
  table->virtual_hosts_.resize(rc.virtual_hosts.size());
  for (size_t v = 0; v < rc.virtual_hosts.size(); ++v) {
    const VirtualHost& vh = rc.virtual_hosts[v];
    VirtualHostEntry& entry = table->virtual_hosts_[v];
    entry.config = &vh;
    auto vh_headers = HeaderMutator::Compile(vh.headers);
    if (!vh_headers.ok()) {
      return absl::InvalidArgumentError(fmt::format("virtual host '{}': {}", vh.name,
                                                    std::string(vh_headers.status().message())));
    }
    entry.headers = *std::move(vh_headers);
    entry.routes.resize(vh.routes.size());
    for (size_t r = 0; r < vh.routes.size(); ++r) {
      const router::Route& route = vh.routes[r];
      RouteEntry& route_entry = entry.routes[r];
      route_entry.route = &route;
      auto route_headers = HeaderMutator::Compile(route.headers);
      if (!route_headers.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("virtual host '{}' route {} '{}': {}", vh.name, r, route.name,
                        std::string(route_headers.status().message())));
      }
      route_entry.headers = *std::move(route_headers);
      if (const auto* action = std::get_if<RouteAction>(&route.action)) {
        for (const WeightedCluster& wc : action->weighted_clusters) {
          auto wc_headers = HeaderMutator::Compile(wc.headers);
          if (!wc_headers.ok()) return wc_headers.status();
          route_entry.weighted_cluster_headers.push_back(*std::move(wc_headers));
        }
      }
    }
  }

  for (VirtualHostEntry& entry : table->virtual_hosts_) {
    for (RouteEntry& route_entry : entry.routes) route_entry.virtual_host = &entry;
    for (const std::string& configured : entry.config->domains) {
      const std::string domain = http::ToLowerAscii(configured);
      auto duplicate = [&] {
        return absl::InvalidArgumentError(
            fmt::format("virtual host '{}': domain '{}' is already used by another virtual host",
                        entry.config->name, configured));
      };
      if (domain.empty()) {
        return absl::InvalidArgumentError(
            fmt::format("virtual host '{}': empty domain", entry.config->name));
      }
      if (domain == "*") {
        if (table->default_ != nullptr) return duplicate();
        table->default_ = &entry;
        continue;
      }
      std::vector<WildcardGroup>* groups = nullptr;
      std::string fixed;
      if (domain.size() > 1 && domain.front() == '*') {
        groups = &table->suffix_wildcards_;
        fixed = domain.substr(1);
      } else if (domain.size() > 1 && domain.back() == '*') {
        groups = &table->prefix_wildcards_;
        fixed = domain.substr(0, domain.size() - 1);
      }
      if (groups == nullptr) {
        if (!table->exact_.emplace(domain, &entry).second) return duplicate();
        continue;
      }
      auto group = std::find_if(groups->begin(), groups->end(),
                                [&](const WildcardGroup& g) { return g.length == fixed.size(); });
      if (group == groups->end()) {
        groups->push_back({fixed.size(), {}});
        group = groups->end() - 1;
      }
      if (!group->hosts.emplace(fixed, &entry).second) return duplicate();
    }
  }
  auto longest_first = [](const WildcardGroup& a, const WildcardGroup& b) {
    return a.length > b.length;
  };
  std::sort(table->suffix_wildcards_.begin(), table->suffix_wildcards_.end(), longest_first);
  std::sort(table->prefix_wildcards_.begin(), table->prefix_wildcards_.end(), longest_first);
  return std::shared_ptr<const RouteTable>(std::move(table));
}

template <typename Accessor>
const VirtualHostEntry* RouteTable::FindWildcard(const std::vector<WildcardGroup>& groups,
                                                 std::string_view host, Accessor fixed_part) {
  for (const WildcardGroup& group : groups) {
    // '>=': the '*' must stand for at least one character.
    if (group.length >= host.size()) continue;
    auto it = group.hosts.find(fixed_part(host, group.length));
    if (it != group.hosts.end()) return it->second;
  }
  return nullptr;
}

const VirtualHostEntry* RouteTable::FindWithoutDefault(std::string_view host) const {
  if (auto it = exact_.find(host); it != exact_.end()) return it->second;
  if (const VirtualHostEntry* vh =
          FindWildcard(suffix_wildcards_, host,
                       [](std::string_view h, size_t n) { return h.substr(h.size() - n); })) {
    return vh;
  }
  return FindWildcard(prefix_wildcards_, host,
                      [](std::string_view h, size_t n) { return h.substr(0, n); });
}

const VirtualHostEntry* RouteTable::FindVirtualHost(std::string_view authority) const {
  if (exact_.empty() && suffix_wildcards_.empty() && prefix_wildcards_.empty()) return default_;

  // Lower-case into a stack buffer: no allocation for any sane host name.
  std::array<char, 256> buffer;
  std::string heap;
  char* lower = buffer.data();
  if (authority.size() > buffer.size()) {
    heap.resize(authority.size());
    lower = heap.data();
  }
  for (size_t i = 0; i < authority.size(); ++i) {
    const char c = authority[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  const std::string_view host(lower, authority.size());

  if (const VirtualHostEntry* vh = FindWithoutDefault(host)) return vh;
  if (const size_t port = AuthorityPortStart(host); port != std::string_view::npos) {
    if (const VirtualHostEntry* vh = FindWithoutDefault(host.substr(0, port))) return vh;
  }
  return default_;
}

const RouteEntry* RouteTable::FindRoute(const VirtualHostEntry& virtual_host,
                                        const http::HeaderMap& request) const {
  for (const RouteEntry& entry : virtual_host.routes) {
    if (MatchRoute(entry.route->match, request)) return &entry;
  }
  return nullptr;
}

const RouteEntry* RouteTable::Route(const http::HeaderMap& request) const {
  std::string_view authority = request.Authority();
  if (authority.empty()) authority = request.GetOr("host");
  const VirtualHostEntry* virtual_host = FindVirtualHost(authority);
  return virtual_host == nullptr ? nullptr : FindRoute(*virtual_host, request);
}

int RouteTable::PickWeightedCluster(const RouteAction& action, uint64_t random) {
  if (action.weighted_clusters.empty() || action.total_weight == 0) return -1;
  uint64_t point = random % action.total_weight;
  for (size_t i = 0; i < action.weighted_clusters.size(); ++i) {
    const uint32_t weight = action.weighted_clusters[i].weight;
    if (point < weight) return static_cast<int>(i);
    point -= weight;
  }
  return static_cast<int>(action.weighted_clusters.size()) - 1;  // total_weight > sum: clamp
}

namespace {

std::array<const HeaderMutator*, 4> Levels(const RouteEntry& entry, int weighted_cluster,
                                           const HeaderMutator& config_headers) {
  const HeaderMutator* cluster_level = nullptr;
  if (weighted_cluster >= 0 &&
      static_cast<size_t>(weighted_cluster) < entry.weighted_cluster_headers.size()) {
    cluster_level = &entry.weighted_cluster_headers[static_cast<size_t>(weighted_cluster)];
  }
  return {cluster_level, &entry.headers, &entry.virtual_host->headers, &config_headers};
}

}  // namespace

void RouteTable::ApplyRequestHeaderMutations(const RouteEntry& entry, int weighted_cluster,
                                             http::HeaderMap& headers,
                                             const access_log::StreamInfo& info) const {
  const auto levels = Levels(entry, weighted_cluster, config_headers_);
  router::ApplyRequestHeaderMutations(levels, config_->most_specific_header_mutations_wins, headers,
                                      info);
}

void RouteTable::ApplyResponseHeaderMutations(const RouteEntry& entry, int weighted_cluster,
                                              http::HeaderMap& headers,
                                              const access_log::StreamInfo& info) const {
  const auto levels = Levels(entry, weighted_cluster, config_headers_);
  router::ApplyResponseHeaderMutations(levels, config_->most_specific_header_mutations_wins,
                                       headers, info);
}

}  // namespace weft::router
