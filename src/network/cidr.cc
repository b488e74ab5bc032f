#include "network/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace weft::network {
namespace {

// inet_pton wants a NUL-terminated string: IP literals fit in INET6_ADDRSTRLEN.
bool ParseIp(std::string_view text, int& family, std::array<uint8_t, 16>& bytes) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (inet_pton(AF_INET, buf, bytes.data()) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, buf, bytes.data()) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace

IpPort IpPort::FromAddress(const Address& address) {
  IpPort out;
  if (address.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    std::memcpy(out.bytes.data(), &in->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    std::memcpy(out.bytes.data(), &in6->sin6_addr, 16);
  } else {
    return out;
  }
  out.family = address.family();
  out.port = address.port();
  return out;
}

IpPort IpPort::FromString(std::string_view text) {
  IpPort out;
  std::string_view ip = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {  // "[v6]:port"
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return out;
    ip = text.substr(1, close - 1);
    if (close + 1 < text.size() && text[close + 1] == ':') port = text.substr(close + 2);
  } else if (text.find(':') == text.rfind(':') && text.find(':') != std::string_view::npos) {
    const size_t colon = text.find(':');  // "v4:port"; a bare v6 literal has several colons
    ip = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!ParseIp(ip, out.family, out.bytes)) return IpPort{};
  for (char c : port) {
    if (c < '0' || c > '9') break;
    out.port = out.port * 10 + static_cast<uint32_t>(c - '0');
  }
  return out;
}

std::optional<Cidr> Cidr::Parse(std::string_view prefix, uint32_t prefix_len) {
  Cidr out;
  if (!ParseIp(prefix, out.family, out.bytes)) return std::nullopt;
  out.prefix_len = std::min<uint32_t>(prefix_len, out.family == AF_INET ? 32 : 128);
  return out;
}

bool Cidr::Contains(const IpPort& ip) const {
  if (ip.family != family) return false;
  const uint32_t whole = prefix_len / 8;
  if (std::memcmp(ip.bytes.data(), bytes.data(), whole) != 0) return false;
  const uint32_t rest = prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (ip.bytes[whole] & mask) == (bytes[whole] & mask);
}

}  // namespace weft::network
