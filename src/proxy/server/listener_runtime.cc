#include "proxy/server/listener_runtime.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace weft::proxy {

namespace {

// Longest matching prefix length, -1 when ranges are given and none matches, 0 when none given.
int BestCidr(const network::IpPort& ip, const std::vector<listener::CidrRange>& ranges) {
  if (ranges.empty()) return 0;
  int best = -1;
  for (const auto& r : ranges) {
    if (r.Contains(ip)) best = std::max(best, static_cast<int>(r.prefix_len) + 1);
  }
  return best;
}

// Envoy's server_names rules: an exact name beats any wildcard, a longer "*.suffix" beats a
// shorter one, and a wildcard matches any depth ("*.example.com" matches "a.b.example.com", not
// "example.com"). 0 without server_names (catch-all), -1 when names are given and none matches
// (a connection without SNI matches only catch-all chains).
int ServerNameScore(const std::vector<std::string>& names, std::string_view sni) {
  if (names.empty()) return 0;
  int best = -1;
  for (const std::string& name : names) {
    if (name == sni && !sni.empty()) return 1 << 20;
    if (name.size() > 1 && name[0] == '*' && name[1] == '.' && sni.size() > name.size() - 1 &&
        sni.ends_with(std::string_view(name).substr(1))) {
      best = std::max(best, static_cast<int>(name.size()));
    }
  }
  return best;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ListenerRuntime>> ListenerRuntime::Build(
    std::shared_ptr<const listener::ListenerConfig> config, const RdsLookup& rds) {
  auto runtime = std::make_shared<ListenerRuntime>();
  ASSIGN_OR_RETURN(runtime->address, network::MakeAddress(config->address, config->port));
  runtime->stat_prefix = config->stat_prefix.empty()
                             ? absl::StrCat("listener.", config->address, "_", config->port, ".")
                             : absl::StrCat("listener.", config->stat_prefix, ".");
  auto build_chain =
      [&rds](const listener::FilterChain& chain) -> absl::StatusOr<FilterChainRuntime> {
    FilterChainRuntime out;
    out.config = &chain;
    if (const auto* hcm = std::get_if<listener::HttpConnectionManagerConfig>(&chain.filter)) {
      std::shared_ptr<router::RdsRouteTable> table;
      if (!hcm->rds_route_config_name.empty() && rds) table = rds(hcm->rds_route_config_name);
      ASSIGN_OR_RETURN(out.hcm, HcmRuntime::Build(*hcm, std::move(table)));
    } else {
      const auto& tcp = std::get<listener::TcpProxyConfig>(chain.filter);
      auto rt = std::make_shared<TcpProxyRuntime>();
      rt->config = &tcp;
      rt->istio_stats = chain.istio_tcp_stats.get();
      rt->downstream_exchange_protocol = chain.metadata_exchange_protocol;
      ASSIGN_OR_RETURN(rt->access_logs, access_log::BuildAccessLogs(tcp.access_logs));
      out.tcp = std::move(rt);
    }
    return out;
  };
  for (const auto& chain : config->filter_chains) {
    ASSIGN_OR_RETURN(FilterChainRuntime rt, build_chain(chain));
    runtime->chains.push_back(std::move(rt));
  }
  if (config->default_filter_chain) {
    ASSIGN_OR_RETURN(FilterChainRuntime rt, build_chain(*config->default_filter_chain));
    runtime->default_chain = std::move(rt);
  }
  runtime->inspect_tls = config->tls_inspector;
  if (config->http_inspector) {
    for (const auto& chain : config->filter_chains) {
      runtime->inspect_http = runtime->inspect_http || !chain.match.application_protocols.empty();
    }
  }
  runtime->config = std::move(config);
  return std::shared_ptr<const ListenerRuntime>(std::move(runtime));
}

const FilterChainRuntime* ListenerRuntime::SelectChain(
    const network::Address& local, const network::Address& remote,
    std::string_view application_protocol) const {
  DetectedFacts facts;
  if (!application_protocol.empty()) facts.application_protocols.push_back(application_protocol);
  return SelectChain(local, remote, facts);
}

const FilterChainRuntime* ListenerRuntime::SelectChain(const network::Address& local,
                                                       const network::Address& remote,
                                                       const DetectedFacts& facts) const {
  // Per chain and level: -1 when the chain's criterion excludes the connection, 0 when the chain
  // does not constrain that level (catch-all), higher = more specific.
  constexpr size_t kLevels = 8;
  const std::string_view transport =
      facts.transport_protocol == "tls" ? std::string_view("tls") : std::string_view("raw_buffer");
  const network::IpPort local_ip = network::IpPort::FromAddress(local);
  const network::IpPort remote_ip = network::IpPort::FromAddress(remote);
  auto score_chain = [&](const listener::FilterChainMatch& m) {
    std::array<int, kLevels> score{};
    if (m.destination_port) score[0] = *m.destination_port == local.port() ? 1 : -1;
    score[1] = BestCidr(local_ip, m.prefix_ranges);
    score[2] = ServerNameScore(m.server_names, facts.server_name);
    if (!m.transport_protocol.empty()) score[3] = m.transport_protocol == transport ? 1 : -1;
    if (!m.application_protocols.empty()) {
      score[4] = -1;
      for (const auto& want : m.application_protocols) {
        for (std::string_view have : facts.application_protocols) {
          if (want == have) score[4] = 1;  // any overlap, as Envoy matches the ALPN list
        }
      }
    }
    if (m.source_type != listener::FilterChainMatch::SourceType::kAny) {
      bool local_source = remote.IsLoopback() || remote.IpString() == local.IpString();
      bool want_local = m.source_type == listener::FilterChainMatch::SourceType::kSameIpOrLoopback;
      score[5] = local_source == want_local ? 1 : -1;
    }
    score[6] = BestCidr(remote_ip, m.source_prefix_ranges);
    if (!m.source_ports.empty()) {
      score[7] = -1;
      for (uint32_t p : m.source_ports) {
        if (p == remote.port()) score[7] = 1;
      }
    }
    return score;
  };
  std::vector<std::pair<const FilterChainRuntime*, std::array<int, kLevels>>> candidates;
  candidates.reserve(chains.size());
  for (const auto& chain : chains)
    candidates.emplace_back(&chain, score_chain(chain.config->match));
  for (size_t level = 0; level < kLevels && !candidates.empty(); ++level) {
    int best = -1;
    for (const auto& [chain, score] : candidates) best = std::max(best, score[level]);
    std::erase_if(candidates, [&](const auto& c) { return best < 0 || c.second[level] != best; });
  }
  // Envoy refuses listeners whose chains have identical matches; the first one wins here.
  if (!candidates.empty()) return candidates.front().first;
  return default_chain ? &*default_chain : nullptr;
}

}  // namespace weft::proxy
