#include "ctl/ipam.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

std::filesystem::path NetworkDir() { return WeftHome() / "network"; }

}  // namespace

bool Cidr::Contains(uint32_t address) const {
  uint32_t mask = prefix == 0 ? 0 : ~0U << (32 - prefix);
  return (address & mask) == network;
}

std::optional<uint32_t> ParseIpv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t address) {
  in_addr a{};
  a.s_addr = htonl(address);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

std::optional<Cidr> ParseCidr(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto address = ParseIpv4(text.substr(0, slash));
  std::string prefix = text.substr(slash + 1);
  if (!address || prefix.empty() || prefix.size() > 2 ||
      prefix.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  Cidr c;
  c.prefix = std::stoi(prefix);
  // At most /30: a bridge address and one workload at least.
  if (c.prefix < 8 || c.prefix > 30) return std::nullopt;
  c.network = *address & (~0U << (32 - c.prefix));
  return c;
}

std::unique_ptr<Ipam> Ipam::Lock(std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(NetworkDir(), ec);
  int fd = open((NetworkDir() / "ipam.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || flock(fd, LOCK_EX) != 0) {
    *error = (NetworkDir() / "ipam.lock").string() + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return nullptr;
  }
  nlohmann::json state = nlohmann::json::object();
  if (std::ifstream in(NetworkDir() / "ipam.json"); in) {
    state = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!state.is_object()) {
      *error = (NetworkDir() / "ipam.json").string() + ": not a JSON object";
      close(fd);
      return nullptr;
    }
  }
  if (!state.contains("allocations") || !state["allocations"].is_object()) {
    state["allocations"] = nlohmann::json::object();
  }
  if (!state.contains("bridges") || !state["bridges"].is_object()) {
    state["bridges"] = nlohmann::json::object();
  }
  return std::unique_ptr<Ipam>(new Ipam(fd, std::move(state)));
}

Ipam::~Ipam() { close(lock_fd_); }  // closing the descriptor releases the flock

std::optional<std::string> Ipam::Allocate(const Cidr& pool, uint32_t first,
                                          const std::string& owner,
                                          const std::function<bool(const std::string&)>& usable) {
  auto& allocations = state_["allocations"];
  // The last address of the pool is its broadcast address.
  for (uint32_t offset = first; offset + 1 < pool.Size(); ++offset) {
    std::string address = FormatIpv4(pool.Host(offset));
    if (allocations.contains(address)) continue;
    if (usable && !usable(address)) continue;
    allocations[address] = owner;
    return address;
  }
  return std::nullopt;
}

void Ipam::Release(const std::string& workload) {
  auto& allocations = state_["allocations"];
  for (auto it = allocations.begin(); it != allocations.end();) {
    std::string owner = it->is_string() ? it->get<std::string>() : "";
    if (owner == workload || owner.rfind(workload + "/", 0) == 0) {
      it = allocations.erase(it);
    } else {
      ++it;
    }
  }
}

int Ipam::CountIn(const Cidr& pool) const {
  int n = 0;
  for (const auto& [address, owner] : state_["allocations"].items()) {
    auto a = ParseIpv4(address);
    if (a && pool.Contains(*a)) ++n;
  }
  return n;
}

bool Ipam::BridgeCreatedByWeft(const std::string& bridge) const {
  const auto& b = state_["bridges"];
  return b.contains(bridge) && b[bridge].is_object() && b[bridge].value("createdByWeft", false);
}

void Ipam::SetBridgeCreatedByWeft(const std::string& bridge, bool created) {
  if (created) {
    state_["bridges"][bridge] = {{"createdByWeft", true}};
  } else {
    state_["bridges"].erase(bridge);
  }
}

bool Ipam::AnyBridgeCreatedByWeft() const {
  for (const auto& [name, bridge] : state_["bridges"].items()) {
    if (bridge.is_object() && bridge.value("createdByWeft", false)) return true;
  }
  return false;
}

bool Ipam::Flag(const std::string& name) const {
  return state_.contains("flags") && state_["flags"].is_object() &&
         state_["flags"].value(name, false);
}

void Ipam::SetFlag(const std::string& name, bool value) {
  if (!state_.contains("flags") || !state_["flags"].is_object()) {
    state_["flags"] = nlohmann::json::object();
  }
  if (value) {
    state_["flags"][name] = true;
  } else {
    state_["flags"].erase(name);
  }
}

bool Ipam::Save(std::string* error) {
  const auto tmp = NetworkDir() / "ipam.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << state_.dump(2) << "\n";
    if (!out.flush()) {
      *error = tmp.string() + ": write failed";
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, NetworkDir() / "ipam.json", ec);
  if (ec) {
    *error = (NetworkDir() / "ipam.json").string() + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace weft::ctl
