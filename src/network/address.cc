#include "network/address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace weft::network {

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string Address::IpString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string Address::ToString() const {
  if (family() == AF_INET6) return absl::StrCat("[", IpString(), "]:", port());
  return absl::StrCat(IpString(), ":", port());
}

bool Address::IsLoopback() const {
  if (family() == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr) >> 24) == 127;
  }
  if (family() == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
  }
  return false;
}

absl::StatusOr<Address> MakeAddress(std::string_view ip, uint32_t port) {
  if (port > 65535) return absl::InvalidArgumentError(absl::StrCat("port ", port, " out of range"));
  Address a;
  std::string s(ip);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    a.len = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", std::string(ip), "' is not an IP address"));
}

absl::StatusOr<Address> ParseAddress(std::string_view ip_port) {
  size_t colon = ip_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", std::string(ip_port), "' is not ip:port"));
  }
  uint32_t port;
  if (!absl::SimpleAtoi(std::string(ip_port.substr(colon + 1)), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(ip_port), "' has no valid port"));
  }
  return MakeAddress(ip_port.substr(0, colon), port);
}

Address AddressFromSockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  std::memcpy(&a.storage, sa, std::min<size_t>(len, sizeof(a.storage)));
  a.len = len;
  return a;
}

absl::StatusOr<int> CreateTcpSocket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket(): ", std::strerror(errno)));
  return fd;
}

Address LocalAddress(int fd) {
  Address a;
  a.len = sizeof(a.storage);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
  return a;
}

Address PeerAddress(int fd) {
  Address a;
  a.len = sizeof(a.storage);
  getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
  return a;
}

absl::StatusOr<Address> OriginalDestination(int fd) {
  Address a;
  a.len = sizeof(a.storage);
  Address local = LocalAddress(fd);
  int rc = local.family() == AF_INET6
               ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &a.storage, &a.len)
               : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &a.storage, &a.len);
  if (rc != 0) {
    // Not redirected (no conntrack entry): the local address is where the client was going.
    return local;
  }
  return a;
}

}  // namespace weft::network
