#include "proxy/config/translate_dns_filter.h"

#include "absl/strings/ascii.h"
#include "base/status.h"
#include "proxy/config/translate_common.h"

namespace weft::config {

namespace dns = envoy::extensions::filters::udp::dns_filter::v3;

absl::StatusOr<listener::DnsFilterConfig> TranslateDnsFilter(const dns::DnsFilterConfig& p,
                                                             std::string_view path) {
  listener::DnsFilterConfig out;
  // dns_filter.proto: stat_prefix is required (min_len 1).
  if (p.stat_prefix().empty()) return ConfigError(FieldPath(path, "stat_prefix"), "is required");
  out.stat_prefix = p.stat_prefix();
  if (p.has_server_config()) {
    const std::string server_path = FieldPath(path, "server_config");
    if (!p.server_config().has_inline_dns_table()) {
      return ConfigError(FieldPath(server_path, "inline_dns_table"), "is required");
    }
    const auto& table = p.server_config().inline_dns_table();
    const std::string table_path = FieldPath(server_path, "inline_dns_table");
    for (int i = 0; i < table.virtual_domains_size(); ++i) {
      const auto& d = table.virtual_domains(i);
      const std::string d_path = IndexPath(table_path, "virtual_domains", i);
      listener::DnsVirtualDomain domain;
      std::string name = absl::AsciiStrToLower(std::string(d.name()));
      if (!name.empty() && name.back() == '.') name.pop_back();
      // RFC 1035 2.3.4: names are at most 255 octets (253 characters in text form).
      if (name.empty() || name.size() > 253) {
        return ConfigError(FieldPath(d_path, "name"),
                           "must be a domain name of 1 to 253 characters");
      }
      domain.name = std::move(name);
      if (!d.endpoint().has_address_list()) {
        return ConfigError(FieldPath(d_path, "endpoint.address_list"), "is required");
      }
      const auto& addresses = d.endpoint().address_list().address();
      for (int j = 0; j < addresses.size(); ++j) {
        if (!IsIpLiteral(addresses[j])) {
          return ConfigError(IndexPath(FieldPath(d_path, "endpoint.address_list"), "address", j),
                             "'", addresses[j], "' is not an IP address");
        }
        domain.addresses.push_back(addresses[j]);
      }
      if (d.has_answer_ttl()) {
        domain.answer_ttl = std::chrono::seconds(d.answer_ttl().seconds());
      }
      out.virtual_domains.push_back(std::move(domain));
    }
    for (int i = 0; i < table.known_suffixes_size(); ++i) {
      const std::string m_path = IndexPath(table_path, "known_suffixes", i);
      ASSIGN_OR_RETURN(router::StringMatcher m,
                       TranslateStringMatcher(table.known_suffixes(i), m_path));
      // DNS names compare case-insensitively (RFC 4343) whatever the matcher says.
      m.ignore_case = true;
      out.known_suffixes.push_back(std::move(m));
    }
  }
  if (p.has_client_config()) {
    const auto& c = p.client_config();
    const std::string c_path = FieldPath(path, "client_config");
    if (c.has_resolver_timeout()) {
      out.resolver_timeout = ToMilliseconds(c.resolver_timeout());
      if (out.resolver_timeout.count() <= 0) {
        return ConfigError(FieldPath(c_path, "resolver_timeout"), "must be positive");
      }
    }
    for (int i = 0; i < c.upstream_resolvers_size(); ++i) {
      const std::string r_path = IndexPath(c_path, "upstream_resolvers", i);
      ASSIGN_OR_RETURN(HostPort hp, TranslateSocketAddress(c.upstream_resolvers(i), r_path,
                                                           /*allow_udp=*/true));
      if (!IsIpLiteral(hp.address)) {
        return ConfigError(FieldPath(r_path, "socket_address.address"), "'", hp.address,
                           "' is not an IP address");
      }
      out.upstream_resolvers.push_back({hp.address, hp.port == 0 ? 53 : hp.port});
    }
    out.max_pending_lookups = c.max_pending_lookups();
  }
  return out;
}

}  // namespace weft::config
