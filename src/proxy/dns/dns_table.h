// The names a DNS filter answers itself (inline_dns_table), ready for lookups: addresses as
// wire bytes by family, names lower case. Built from the listener's config; immutable.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/listener/dns_filter_config.h"

namespace weft::dns {

class DnsTable {
 public:
  struct Entry {
    std::vector<std::string> v4;  // 4-byte rdata each
    std::vector<std::string> v6;  // 16-byte rdata each
    uint32_t ttl_seconds = 300;
  };

  // The config's addresses are valid IP literals (the translation checked them).
  explicit DnsTable(const listener::DnsFilterConfig& config);

  // `name`: lower case, no trailing dot.
  const Entry* Find(std::string_view name) const;
  // Whether the name is under one of known_suffixes (the filter is authoritative for it).
  bool UnderKnownSuffix(std::string_view name) const;

 private:
  std::unordered_map<std::string, Entry> entries_;
  std::vector<router::StringMatcher> known_suffixes_;
};

}  // namespace weft::dns
