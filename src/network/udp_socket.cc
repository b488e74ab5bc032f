#include "network/udp_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weft::network {

absl::StatusOr<int> CreateUdpSocket(int family) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  return fd;
}

absl::StatusOr<int> BindUdpSocket(const Address& address, bool freebind) {
  ASSIGN_OR_RETURN(int fd, CreateUdpSocket(address.family()));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (freebind) setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
  if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, address.sa(), address.len) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot bind udp ", address.ToString(), ": ", std::strerror(err)));
  }
  return fd;
}

}  // namespace weft::network
