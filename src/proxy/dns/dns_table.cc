#include "proxy/dns/dns_table.h"

#include <arpa/inet.h>

#include "proxy/router/route_matcher.h"

namespace weft::dns {

DnsTable::DnsTable(const listener::DnsFilterConfig& config)
    : known_suffixes_(config.known_suffixes) {
  for (const auto& domain : config.virtual_domains) {
    // A name listed twice answers with the addresses of both entries (the last TTL wins).
    Entry& entry = entries_[domain.name];
    entry.ttl_seconds = static_cast<uint32_t>(domain.answer_ttl.count());
    for (const auto& address : domain.addresses) {
      in_addr v4;
      in6_addr v6;
      if (inet_pton(AF_INET, address.c_str(), &v4) == 1) {
        entry.v4.emplace_back(reinterpret_cast<const char*>(&v4), sizeof(v4));
      } else if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
        entry.v6.emplace_back(reinterpret_cast<const char*>(&v6), sizeof(v6));
      }
    }
  }
}

const DnsTable::Entry* DnsTable::Find(std::string_view name) const {
  auto it = entries_.find(std::string(name));
  return it == entries_.end() ? nullptr : &it->second;
}

bool DnsTable::UnderKnownSuffix(std::string_view name) const {
  for (const auto& m : known_suffixes_) {
    if (router::MatchString(m, name)) return true;
  }
  return false;
}

}  // namespace weft::dns
