// Helpers for building host sets in the upstream tests.
#pragma once

#include <string>
#include <vector>

#include "proxy/upstream/host.h"

namespace weft::upstream::testing {

// A host at 10.0.<i / 256>.<i % 256>:80 with the given weight.
inline HostConstSharedPtr TestHost(int i, uint32_t weight = 1, uint32_t priority = 0) {
  std::string ip = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
  auto address = ParseIpAddress(ip, 80);
  return MakeHost(reinterpret_cast<const sockaddr*>(&*address), SockaddrLength(*address), "",
                  weight, {}, priority);
}

inline std::shared_ptr<const HostSet> TestHostSet(const std::vector<uint32_t>& weights) {
  std::vector<HostConstSharedPtr> hosts;
  for (size_t i = 0; i < weights.size(); ++i)
    hosts.push_back(TestHost(static_cast<int>(i), weights[i]));
  return HostSet::Create(std::move(hosts));
}

inline std::shared_ptr<const HostSet> EqualHostSet(int n) {
  return TestHostSet(std::vector<uint32_t>(n, 1));
}

}  // namespace weft::upstream::testing
