// IP addresses and CIDR ranges in a form compared without parsing or allocating: a CIDR range
// (envoy.config.core.v3.CidrRange) is parsed once, with its config, and an address once per
// connection or request. Used by filter-chain matching (prefix_ranges, source_prefix_ranges) and
// by RBAC's ip matchers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "network/address.h"

namespace weft::network {

// An IP address (and port).
struct IpPort {
  int family = 0;  // AF_INET, AF_INET6; 0 = unknown (matches no CIDR)
  std::array<uint8_t, 16> bytes{};
  uint32_t port = 0;

  static IpPort FromAddress(const Address& address);
  // "1.2.3.4", "1.2.3.4:80", "::1", "[::1]:80"; unknown (family 0) when unparseable.
  static IpPort FromString(std::string_view text);
};

// A CIDR range.
struct Cidr {
  int family = 0;
  std::array<uint8_t, 16> bytes{};
  uint32_t prefix_len = 0;

  // Nullopt when `prefix` is not an IP literal. prefix_len is clamped to the family's width.
  static std::optional<Cidr> Parse(std::string_view prefix, uint32_t prefix_len);
  bool Contains(const IpPort& ip) const;
};

}  // namespace weft::network
