// envoy.filters.network.rbac (envoy/extensions/filters/network/rbac/v3/rbac.proto): the RBAC
// engine applied to a whole connection, before its terminal filter (tcp_proxy or the HTTP
// connection manager) sees a byte. Header, url_path and metadata rules never match here (a
// connection has none). A denied connection is closed by the caller (the worker). Stats:
// <stat_prefix>.rbac.allowed / denied / shadow_allowed / shadow_denied (Envoy's names).
#pragma once

#include <memory>
#include <vector>

#include "network/address.h"
#include "proxy/filters/rbac_engine.h"
#include "proxy/stats/stats.h"

namespace weft::filters {

// Runs the chain's network RBAC filters in order; false as soon as one denies.
// `peer_principal` is the verified peer certificate's URI SAN ("" without TLS).
bool NetworkRbacAllows(const std::vector<std::shared_ptr<const rbac::RbacConfig>>& rbacs,
                       const network::Address& local, const network::Address& remote,
                       std::string_view requested_server_name, std::string_view peer_principal,
                       stats::Store& stats);

}  // namespace weft::filters
