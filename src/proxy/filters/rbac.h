// envoy.filters.http.rbac (envoy/extensions/filters/http/rbac/v3/rbac.proto): allows or denies
// each request by the policies of rbac_engine.h, after the route is chosen (so a route's
// RBACPerRoute replaces the filter's config). A denied request is answered 403
// "RBAC: access denied" with response code details rbac_access_denied_matched_policy[<policy>]
// (Envoy's; "[none]" when an ALLOW engine matched nothing). Shadow rules only count
// (rbac.shadow_allowed / shadow_denied) and note their verdict in the dynamic metadata
// "envoy.filters.http.rbac"; the LOG action marks matching requests with
// envoy.common.access_log_hint = true. Stats: http.<stat_prefix>.rbac.{allowed,denied,...}.
#pragma once

#include <memory>
#include <string>

#include "proxy/filters/filter.h"
#include "proxy/filters/rbac_engine.h"

namespace weft::filters {

std::unique_ptr<FilterFactory> CreateRbacFilterFactory(
    std::string name, std::shared_ptr<const rbac::RbacConfig> config);

// The request as the engine sees it, from the stream's info and headers. Borrows both.
rbac::RbacRequest RbacRequestFor(const access_log::StreamInfo& info,
                                 const http::HeaderMap* headers);

}  // namespace weft::filters
