// Workload addresses: <home>/network/ipam.json, read and written under an exclusive flock on
// <home>/network/ipam.lock so concurrent add-to-mesh / remove-from-mesh never hand out one address
// twice. The file maps each allocated address to its owner ("ratings", or "ratings/outbound" for
// a no-capture workload's second loopback address) and remembers which bridges weftctl created
// (only those are deleted when their last workload leaves).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace weft::ctl {

// An IPv4 prefix "10.250.0.0/16".
struct Cidr {
  uint32_t network = 0;  // host byte order
  int prefix = 0;
  uint32_t Host(uint32_t offset) const { return network + offset; }
  uint32_t Size() const { return prefix == 0 ? 0xffffffffU : (1U << (32 - prefix)); }
  bool Contains(uint32_t address) const;
};
std::optional<Cidr> ParseCidr(const std::string& text);
std::string FormatIpv4(uint32_t address);
std::optional<uint32_t> ParseIpv4(const std::string& text);

class Ipam {
 public:
  // Takes the lock (blocking) and reads the file; nullptr with `error` when it cannot.
  static std::unique_ptr<Ipam> Lock(std::string* error);
  ~Ipam();
  Ipam(const Ipam&) = delete;
  Ipam& operator=(const Ipam&) = delete;

  // The lowest address of `pool` from offset `first` on (the network address and the bridge's
  // .1 are below it) that is not allocated and that `usable` accepts; recorded for `owner`.
  std::optional<std::string> Allocate(const Cidr& pool, uint32_t first, const std::string& owner,
                                      const std::function<bool(const std::string&)>& usable);
  // Forgets every address of `workload` ("NAME" and "NAME/...").
  void Release(const std::string& workload);
  int CountIn(const Cidr& pool) const;

  bool BridgeCreatedByWeft(const std::string& bridge) const;
  void SetBridgeCreatedByWeft(const std::string& bridge, bool created);
  bool AnyBridgeCreatedByWeft() const;

  // Named booleans about the host ("ipForwardEnabledByWeft"), false when absent.
  bool Flag(const std::string& name) const;
  void SetFlag(const std::string& name, bool value);

  // Writes the file (temporary file, then rename).
  bool Save(std::string* error);

 private:
  Ipam(int lock_fd, nlohmann::json state) : lock_fd_(lock_fd), state_(std::move(state)) {}
  int lock_fd_;
  nlohmann::json state_;
};

}  // namespace weft::ctl
