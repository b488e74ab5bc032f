// Everything one http_connection_manager filter chain needs at run time, prepared once on the
// main thread from its HttpConnectionManagerConfig and shared (immutable) by every worker:
// the compiled route table, compiled access-log and local-reply formats, codec limits.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "proxy/access_log/access_log.h"
#include "proxy/access_log/substitution_formatter.h"
#include "proxy/codec/codec_factory.h"
#include "proxy/filters/filter.h"
#include "proxy/listener/listener_config.h"
#include "proxy/router/rds_route_table.h"
#include "proxy/router/router.h"

namespace weft::proxy {

struct LocalReplyMapperRuntime {
  const listener::LocalReplyMapper* config;
  std::shared_ptr<const access_log::SubstitutionFormatter> body_format;  // may be null
  std::shared_ptr<const access_log::SubstitutionFormatter> body;         // may be null
};

struct HcmRuntime {
  const listener::HttpConnectionManagerConfig* config = nullptr;  // owned by the listener config
  // Inline route_config: fixed for the runtime's life. rds: null, and `rds` holds the current
  // table, swapped in place by RDS updates (see rds_route_table.h).
  std::shared_ptr<const router::RouteTable> routes;
  std::shared_ptr<router::RdsRouteTable> rds;
  std::vector<access_log::AccessLog> access_logs;
  std::vector<LocalReplyMapperRuntime> local_reply_mappers;
  std::shared_ptr<const access_log::SubstitutionFormatter> local_reply_body_format;
  http::CodecLimits limits;
  std::string stat_prefix;  // "http.<stat_prefix>."
  // http_filters before the router, in order.
  std::vector<std::shared_ptr<const filters::FilterFactory>> filter_factories;
  http::Http2Options http2;  // http2_protocol_options, plus drain_timeout

  // The route table a new stream on worker `worker` routes by. An RDS table is pinned in `pin`
  // so that an update during the stream leaves the stream's table (and route entry) alive.
  const router::RouteTable& RoutesForStream(size_t worker,
                                            std::shared_ptr<const router::RouteTable>& pin) const {
    if (rds == nullptr) return *routes;
    pin = rds->Current(worker);
    return *pin;
  }

  // `rds` is the route configuration an rds HCM names (null for inline route_config).
  static absl::StatusOr<std::shared_ptr<const HcmRuntime>> Build(
      const listener::HttpConnectionManagerConfig& config,
      std::shared_ptr<router::RdsRouteTable> rds = nullptr);
};

}  // namespace weft::proxy
