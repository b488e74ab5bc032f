// ORIGINAL_DST clusters: the upstream host is the address the downstream connection was headed
// to before iptables redirected it to the proxy (SO_ORIGINAL_DST), or one named by a request
// header (original_dst_http_header). Hosts are made on demand and cached per worker, so repeat
// connections to the same destination reuse one Host; a sweep every cleanup_interval drops the
// ones no connection asked for since the previous sweep (a connection still using a dropped host
// keeps it alive through its shared_ptr).
//
// Thread-safety: none; one map per worker, swept by a timer on that worker's dispatcher.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "event/dispatcher.h"
#include "proxy/upstream/host.h"

namespace weft::upstream {

class OriginalDstHostMap {
 public:
  OriginalDstHostMap(event::Dispatcher& worker, std::chrono::milliseconds cleanup_interval);
  OriginalDstHostMap(const OriginalDstHostMap&) = delete;
  OriginalDstHostMap& operator=(const OriginalDstHostMap&) = delete;

  // The host for `address` (AF_INET or AF_INET6, with its port); nullptr for other families.
  HostConstSharedPtr GetOrCreate(const sockaddr* address, socklen_t address_len);

  // Drops the hosts not asked for since the last sweep. The timer calls it every
  // cleanup_interval; public so tests need not wait for the timer.
  void Sweep();
  size_t size() const { return hosts_.size(); }

 private:
  // Family, port and address bytes: hashed without formatting or allocating.
  struct Key {
    std::array<uint8_t, 16> ip{};
    uint16_t port = 0;
    uint16_t family = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Entry {
    HostConstSharedPtr host;
    bool used_since_sweep = true;
  };

  std::chrono::milliseconds cleanup_interval_;
  std::unique_ptr<event::Timer> sweep_timer_;
  std::unordered_map<Key, Entry, KeyHash> hosts_;
};

}  // namespace weft::upstream
