#include "proxy/upstream/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weft::upstream {

namespace {
// Debian's Abseil is built with its own string_view, so std::string_view needs spelling out.
absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

std::string FormatAddress(const sockaddr* address) {
  char ip[INET6_ADDRSTRLEN];
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
    return absl::StrCat(ip, ":", ntohs(in->sin_port));
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    return absl::StrCat("[", ip, "]:", ntohs(in6->sin6_port));
  }
  return "<unsupported address family>";
}

absl::StatusOr<sockaddr_storage> ParseIpAddress(std::string_view ip, uint16_t port) {
  sockaddr_storage storage{};
  std::string text(ip);  // inet_pton needs a terminated string
  auto* in = reinterpret_cast<sockaddr_in*>(&storage);
  if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    return storage;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    return storage;
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IP address: '", View(ip), "'"));
}

absl::StatusOr<sockaddr_storage> ParseIpPort(std::string_view ip_port) {
  size_t colon = ip_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("expected ip:port, got '", View(ip_port), "'"));
  }
  std::string_view ip = ip_port.substr(0, colon);
  std::string_view port_text = ip_port.substr(colon + 1);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
    ip = ip.substr(1, ip.size() - 2);
  } else if (ip.find(':') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("IPv6 address needs brackets ([ip]:port): '", View(ip_port), "'"));
  }
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", View(ip_port), "'"));
  }
  return ParseIpAddress(ip, static_cast<uint16_t>(port));
}

socklen_t SockaddrLength(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) return sizeof(sockaddr_in);
  if (address.ss_family == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

}  // namespace weft::upstream
