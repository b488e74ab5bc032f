#include "control/mesh/vip_allocator.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status.h"
#include "control/mesh/state_file.h"

namespace weft::control::mesh {
namespace {

std::string ToText(uint32_t ip) {
  return absl::StrCat(ip >> 24, ".", (ip >> 16) & 255, ".", (ip >> 8) & 255, ".", ip & 255);
}

// The address as a host-order integer, or 0 for anything that is not a dotted IPv4 address.
uint32_t FromText(const std::string& text) {
  in_addr a{};
  return inet_pton(AF_INET, text.c_str(), &a) == 1 ? ntohl(a.s_addr) : 0;
}

bool InRange(uint32_t ip) { return (ip & 0xffff0000u) == kVipRangeBase; }

// x.y.z.0 and x.y.z.255 look like network and broadcast addresses to some clients: skipped.
bool Usable(uint32_t ip) { return (ip & 255) != 0 && (ip & 255) != 255; }

// FNV-1a: stable across builds and platforms (std::hash is neither), so a host's first
// candidate VIP is the same in every weftd.
uint32_t Fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

VipAllocator::VipAllocator(std::string path) : path_(std::move(path)) {}

absl::Status VipAllocator::Load() {
  if (path_.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::optional<std::string> text, ReadStateFile(path_));
  if (!text) return absl::OkStatus();
  const nlohmann::json state = nlohmann::json::parse(*text, nullptr, false);
  if (!state.is_object() || !state.contains("vips") || !state["vips"].is_object()) {
    return absl::DataLossError(absl::StrCat(path_, ": not a VIP table"));
  }
  std::set<uint32_t> taken;
  for (const auto& [host, vip] : state["vips"].items()) {
    const uint32_t ip = vip.is_string() ? FromText(vip.get<std::string>()) : 0;
    if (!InRange(ip) || !taken.insert(ip).second) {
      return absl::DataLossError(
          absl::StrCat(path_, ": vips.", host, ": not a VIP of 240.240.0.0/16 used once"));
    }
    vips_[host] = ToText(ip);
  }
  return absl::OkStatus();
}

bool VipAllocator::NeedsVip(const translate::Service& s) {
  if (s.hostname.find('*') != std::string::npos) return false;
  if (s.resolution == translate::Resolution::kNone) return false;
  translate::Service without_vip = s;
  without_vip.allocated_vip.clear();
  return translate::ServiceVips(without_vip).empty();
}

void VipAllocator::Assign(translate::Registry& registry) {
  std::set<std::string> wanted;
  std::set<uint32_t> declared;  // addresses ServiceEntries declare inside the range
  for (const translate::Service& s : registry.services) {
    if (NeedsVip(s)) wanted.insert(s.hostname);
    for (const std::string& a : s.addresses) {
      if (const uint32_t ip = FromText(a); InRange(ip)) declared.insert(ip);
    }
  }
  bool changed = false;
  std::set<uint32_t> taken;
  for (auto it = vips_.begin(); it != vips_.end();) {
    const uint32_t ip = FromText(it->second);
    // Released: the host is gone, or now declares its own address, or a ServiceEntry now
    // declares this VIP for itself (the declaration wins; the host gets another).
    if (!wanted.count(it->first) || declared.count(ip)) {
      it = vips_.erase(it);
      changed = true;
    } else {
      taken.insert(ip);
      ++it;
    }
  }
  for (const std::string& host : wanted) {
    if (vips_.count(host)) continue;
    // Open addressing from the host's hash over the range.
    const uint32_t start = Fnv1a(host) % kVipRangeSize;
    for (uint32_t i = 0; i < kVipRangeSize; ++i) {
      const uint32_t ip = kVipRangeBase + (start + i) % kVipRangeSize;
      if (!Usable(ip) || taken.count(ip) || declared.count(ip)) continue;
      taken.insert(ip);
      vips_[host] = ToText(ip);
      changed = true;
      break;
    }
    if (!vips_.count(host)) WEFT_LOG(error, "vips: 240.240.0.0/16 is full: no VIP for {}", host);
  }
  for (translate::Service& s : registry.services) {
    const auto it = vips_.find(s.hostname);
    s.allocated_vip = it != vips_.end() && NeedsVip(s) ? it->second : std::string();
  }
  if (changed) Save();
}

void VipAllocator::Save() const {
  if (path_.empty()) return;
  nlohmann::json table = nlohmann::json::object();
  for (const auto& [host, vip] : vips_) table[host] = vip;
  const std::string text = nlohmann::json{{"vips", std::move(table)}}.dump(1) + "\n";
  if (absl::Status st = WriteStateFile(path_, text); !st.ok()) {
    WEFT_LOG(error, "vips: {}", std::string(st.message()));
  }
}

}  // namespace weft::control::mesh
