// Socket addresses: parsing "ip:port" / "[v6]:port", printing them the way Envoy's access logs do,
// and the few socket syscalls every part of the proxy uses.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace weft::network {

struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  std::string IpString() const;  // "127.0.0.1" or "::1"
  std::string ToString() const;  // "127.0.0.1:80" or "[::1]:80"
  bool IsLoopback() const;
};

// From an IP literal and a port; an error names the bad literal.
absl::StatusOr<Address> MakeAddress(std::string_view ip, uint32_t port);
// "ip:port" or "[v6]:port".
absl::StatusOr<Address> ParseAddress(std::string_view ip_port);
Address AddressFromSockaddr(const sockaddr* sa, socklen_t len);

// A non-blocking, close-on-exec TCP socket of the address's family.
absl::StatusOr<int> CreateTcpSocket(int family);
// The local and peer addresses of a connected socket.
Address LocalAddress(int fd);
Address PeerAddress(int fd);
// The destination a REDIRECTed connection was meant for (iptables, SO_ORIGINAL_DST).
absl::StatusOr<Address> OriginalDestination(int fd);

}  // namespace weft::network
