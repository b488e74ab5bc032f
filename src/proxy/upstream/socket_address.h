// IP socket addresses for upstream hosts: parsing config literals and formatting them for logs,
// stats and the admin page. Plain functions, thread-safe.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::upstream {

// Formats an AF_INET / AF_INET6 address as "ip:port" ("[ip]:port" for IPv6).
std::string FormatAddress(const sockaddr* address);

// Parses an IP literal (no brackets) and a port into a socket address.
absl::StatusOr<sockaddr_storage> ParseIpAddress(std::string_view ip, uint16_t port);

// Parses "ip:port" or "[ipv6]:port".
absl::StatusOr<sockaddr_storage> ParseIpPort(std::string_view ip_port);

// sizeof(sockaddr_in) or sizeof(sockaddr_in6) by family; 0 for anything else.
socklen_t SockaddrLength(const sockaddr_storage& address);

}  // namespace weft::upstream
