#include "proxy/dns/resolv_conf.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace weft::dns {

std::string ResolvConfPath() {
  const char* path = std::getenv("WEFT_RESOLV_CONF");
  return path != nullptr && *path != '\0' ? path : "/etc/resolv.conf";
}

std::vector<network::Address> ReadNameservers(const std::string& path) {
  std::vector<network::Address> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword;
    std::string value;
    if (!(words >> keyword >> value) || keyword != "nameserver") continue;
    // resolv.conf(5) allows "addr%scope" for link-local v6; the scope is dropped here.
    if (auto pct = value.find('%'); pct != std::string::npos) value.resize(pct);
    auto address = network::MakeAddress(value, 53);
    if (address.ok()) out.push_back(*address);
  }
  return out;
}

}  // namespace weft::dns
