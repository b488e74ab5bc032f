// envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig -> listener::DnsFilterConfig.
// Config-boundary only. Stateless; thread-safe.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.pb.h"
#include "proxy/listener/dns_filter_config.h"

namespace weft::config {

absl::StatusOr<listener::DnsFilterConfig> TranslateDnsFilter(
    const envoy::extensions::filters::udp::dns_filter::v3::DnsFilterConfig& proto,
    std::string_view path);

}  // namespace weft::config
