// UDP sockets: the DNS filter's listening socket and its sockets to upstream nameservers.
#pragma once

#include "base/status.h"
#include "network/address.h"

namespace weft::network {

// A non-blocking, close-on-exec UDP socket of the address family, unbound.
absl::StatusOr<int> CreateUdpSocket(int family);
// A UDP socket bound to `address` (one per listener: no SO_REUSEPORT, so a second process on
// the same port is an error, as for TCP listeners).
absl::StatusOr<int> BindUdpSocket(const Address& address, bool freebind = false);

}  // namespace weft::network
