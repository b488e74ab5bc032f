#include "proxy/server/listener_handoff.h"

#include <cstring>

namespace weft::proxy {

bool IsWildcardAddress(const network::Address& address) {
  if (address.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr.s_addr == INADDR_ANY;
  }
  if (address.family() == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr;
    return std::memcmp(&a, &in6addr_any, sizeof(a)) == 0;
  }
  return false;
}

bool SameIp(const network::Address& a, const network::Address& b) {
  if (a.family() != b.family()) return false;
  if (a.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr.s_addr;
  }
  if (a.family() == AF_INET6) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                       &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr,
                       sizeof(in6_addr)) == 0;
  }
  return false;
}

}  // namespace weft::proxy
