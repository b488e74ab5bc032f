// envoy.filters.udp.dns_filter (envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig with
// its envoy.data.dns.v3.DnsTable) as the UDP listener's DNS server sees it. Built by
// proxy/config/translate_dns_filter.cc; immutable, shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/router/route_config.h"

namespace weft::listener {

struct DnsVirtualDomain {
  std::string name;                    // lower case, no trailing dot
  std::vector<std::string> addresses;  // IP literals: v4 answer A queries, v6 AAAA
  // dns_table.proto DnsVirtualDomain.answer_ttl: "If not specified, defaults to 300s".
  std::chrono::seconds answer_ttl{300};
};

struct DnsFilterConfig {
  std::string stat_prefix;  // stats are dns_filter.<stat_prefix>.<name>
  std::vector<DnsVirtualDomain> virtual_domains;
  // Names matching one of these that are not in virtual_domains get NXDOMAIN, not forwarded.
  std::vector<router::StringMatcher> known_suffixes;
  // client_config. resolver_timeout: dns_filter.proto "defaults to 5 seconds" (5000 ms here).
  std::chrono::milliseconds resolver_timeout{5000};
  // client_config.upstream_resolvers; empty: the nameservers of /etc/resolv.conf (or of
  // $WEFT_RESOLV_CONF), read when the listener starts.
  struct Resolver {
    std::string ip;
    uint32_t port = 53;
  };
  std::vector<Resolver> upstream_resolvers;
  // client_config.max_pending_lookups; 0 = no limit (Envoy: "unlimited" when unset).
  uint64_t max_pending_lookups = 0;
};

}  // namespace weft::listener
