// The nameservers the DNS filter forwards names it does not own to: those of /etc/resolv.conf
// (inside a captured workload's netns, the file `ip netns exec` mounts), or of the file named
// by $WEFT_RESOLV_CONF (tests point it at a fake upstream).
#pragma once

#include <string>
#include <vector>

#include "network/address.h"

namespace weft::dns {

// "/etc/resolv.conf", or $WEFT_RESOLV_CONF when set.
std::string ResolvConfPath();
// The `nameserver` lines of the file, port 53; an unreadable file or none listed: empty.
std::vector<network::Address> ReadNameservers(const std::string& path);

}  // namespace weft::dns
