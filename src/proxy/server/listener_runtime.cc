#include "proxy/server/listener_runtime.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weft::proxy {

namespace {

bool InCidr(const network::Address& addr, const listener::CidrRange& range) {
  auto prefix = network::MakeAddress(range.address_prefix, 0);
  if (!prefix.ok() || prefix->family() != addr.family()) return false;
  const uint8_t* a;
  const uint8_t* b;
  size_t bytes;
  if (addr.family() == AF_INET) {
    a = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr);
    b = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(&prefix->storage)->sin_addr);
    bytes = 4;
  } else {
    a = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_addr);
    b = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in6*>(&prefix->storage)->sin6_addr);
    bytes = 16;
  }
  uint32_t bits = std::min<uint32_t>(range.prefix_len, static_cast<uint32_t>(bytes * 8));
  for (uint32_t i = 0; i < bits; ++i) {
    uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
    if ((a[i / 8] & mask) != (b[i / 8] & mask)) return false;
  }
  return true;
}

// Longest matching prefix length, -1 when ranges are given and none matches, 0 when none given.
int BestCidr(const network::Address& addr, const std::vector<listener::CidrRange>& ranges) {
  if (ranges.empty()) return 0;
  int best = -1;
  for (const auto& r : ranges) {
    if (InCidr(addr, r)) best = std::max(best, static_cast<int>(r.prefix_len) + 1);
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
  // Every criterion must match; among the matches the most specific wins, compared in Envoy's
  // order: destination port, destination IP, server name, transport protocol, application
  // protocols, source type, source IP, source port. Plaintext connections carry no SNI, so chains
  // that require one do not match (TLS brings it); application protocols come from the
  // http_inspector when the listener has it.
  const FilterChainRuntime* best = nullptr;
  std::array<int, 8> best_score{};
  for (const auto& chain : chains) {
    const listener::FilterChainMatch& m = chain.config->match;
    std::array<int, 8> score{};
    if (m.destination_port) {
      if (*m.destination_port != local.port()) continue;
      score[0] = 1;
    }
    int dst = BestCidr(local, m.prefix_ranges);
    if (dst < 0) continue;
    score[1] = dst;
    if (!m.server_names.empty()) continue;
    if (!m.transport_protocol.empty()) {
      if (m.transport_protocol != "raw_buffer") continue;
      score[3] = 1;
    }
    if (!m.application_protocols.empty()) {
      bool found = false;
      for (const auto& p : m.application_protocols) found = found || p == application_protocol;
      if (!found) continue;
      score[4] = 1;
    }
    if (m.source_type != listener::FilterChainMatch::SourceType::kAny) {
      bool local_source = remote.IsLoopback() || remote.IpString() == local.IpString();
      bool want_local = m.source_type == listener::FilterChainMatch::SourceType::kSameIpOrLoopback;
      if (local_source != want_local) continue;
      score[5] = 1;
    }
    int src = BestCidr(remote, m.source_prefix_ranges);
    if (src < 0) continue;
    score[6] = src;
    if (!m.source_ports.empty()) {
      bool found = false;
      for (uint32_t p : m.source_ports) found = found || p == remote.port();
      if (!found) continue;
      score[7] = 1;
    }
    if (best == nullptr || score > best_score) {
      best = &chain;
      best_score = score;
    }
  }
  if (best) return best;
  return default_chain ? &*default_chain : nullptr;
}

}  // namespace weft::proxy
