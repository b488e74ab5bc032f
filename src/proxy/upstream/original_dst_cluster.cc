#include "proxy/upstream/original_dst_cluster.h"

#include <netinet/in.h>

#include <cstring>
#include <string_view>

#include "proxy/upstream/hash.h"

namespace weft::upstream {

size_t OriginalDstHostMap::KeyHash::operator()(const Key& key) const {
  return HashKey(std::string_view(reinterpret_cast<const char*>(key.ip.data()), key.ip.size()),
                 (uint64_t{key.family} << 16) | key.port);
}

OriginalDstHostMap::OriginalDstHostMap(event::Dispatcher& worker,
                                       std::chrono::milliseconds cleanup_interval)
    : cleanup_interval_(cleanup_interval) {
  sweep_timer_ = worker.CreateTimer([this] {
    Sweep();
    sweep_timer_->Enable(cleanup_interval_);
  });
  sweep_timer_->Enable(cleanup_interval_);
}

HostConstSharedPtr OriginalDstHostMap::GetOrCreate(const sockaddr* address, socklen_t address_len) {
  Key key;
  key.family = address->sa_family;
  if (address->sa_family == AF_INET && address_len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(key.ip.data(), &in->sin_addr, 4);
    key.port = in->sin_port;
  } else if (address->sa_family == AF_INET6 && address_len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(key.ip.data(), &in6->sin6_addr, 16);
    key.port = in6->sin6_port;
  } else {
    return nullptr;
  }
  auto [it, inserted] = hosts_.try_emplace(key);
  if (inserted) it->second.host = MakeHost(address, address_len, "", 1);
  it->second.used_since_sweep = true;
  return it->second.host;
}

void OriginalDstHostMap::Sweep() {
  std::erase_if(hosts_, [](const auto& item) { return !item.second.used_since_sweep; });
  for (auto& [key, entry] : hosts_) entry.used_since_sweep = false;
}

}  // namespace weft::upstream
