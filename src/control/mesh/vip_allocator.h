// Service VIPs for hosts without addresses: Istio's DNS auto-allocation, done by weftd. A captured
// workload resolves "reviews" to the VIP through its sidecar's DNS table and dials it; iptables
// sends the connection to the sidecar, which finds the service by the VIP (the `<VIP>_<port>`
// listener for TCP, the route domains for HTTP). So a VIP must stay the same for as long as a
// client may have it cached, and must never name two hosts at once.
//
// - Range: 240.240.0.0/16 (Istio's auto-allocation range, istio pkg/dns/server/name_table.go and
//   pilot/pkg/serviceregistry/serviceentry allocation: "240.240.0.0/16"), skipping x.y.z.0 and
//   x.y.z.255 as Istio does. A host's first candidate is a hash of its name, so a host deleted
//   and recreated usually gets its old VIP back even after it was released; collisions probe on.
// - Who gets one: every non-wildcard host whose ServiceEntry declares no single IP address
//   (`addresses` wins, as in Istio) and whose resolution is not NONE (a NONE host keeps the
//   address the client resolved itself: its traffic is passed to the original destination).
//   Addresses a ServiceEntry declares inside the range are never handed out.
// - Persisted in <data-dir>/vips.json ({"vips": {"<host>": "<ip>"}}) written then renamed, so
//   VIPs survive weftd restarts: the allocation is derived state like registrations.json, not a
//   user resource, so it stays out of the store (no API object, no watch events, no revisions).
// - Released as soon as a rebuild sees no ServiceEntry with the host.
// Dispatcher thread only (the mesh controller calls it in every rebuild).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "control/translate/registry.h"

namespace weft::control::mesh {

class VipAllocator {
 public:
  // `path`: the file VIPs are kept in, "" for nowhere (tests).
  explicit VipAllocator(std::string path = "");

  // Reads the saved VIPs (none on a first start). A file that is not a VIP table is an error.
  absl::Status Load();

  // Sets Service::allocated_vip on every service that needs one (see above), allocating for
  // hosts new since the last call and releasing those no longer in `registry`; saves the table
  // when it changed. Deterministic for a given table and registry.
  void Assign(translate::Registry& registry);

  // host -> VIP, as allocated now.
  const std::map<std::string, std::string>& vips() const { return vips_; }

 private:
  static bool NeedsVip(const translate::Service& s);
  void Save() const;

  std::string path_;
  std::map<std::string, std::string> vips_;
};

// Istio's auto-allocation range, 240.240.0.0/16.
inline constexpr uint32_t kVipRangeBase = (240u << 24) | (240u << 16);
inline constexpr uint32_t kVipRangeSize = 1u << 16;

}  // namespace weft::control::mesh
