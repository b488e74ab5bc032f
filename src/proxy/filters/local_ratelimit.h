// envoy.filters.http.local_ratelimit: a token bucket per filter config (or per route, from
// typed_per_filter_config), shared by all workers; a request that finds the bucket empty is
// answered locally with `status` (429 by default) and the response flag RL. As in Envoy's
// LocalRateLimit (envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto),
// filter_enabled and filter_enforced default to 0%: a config without them only counts nothing.
// Stats: <stat_prefix>.http_local_rate_limit.{enabled,enforced,rate_limited,ok}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/filters/filter.h"
#include "proxy/filters/token_bucket.h"
#include "proxy/router/header_mutation.h"
#include "proxy/router/route_config.h"

namespace weft::filters {

struct LocalRateLimitConfig : router::RouteFilterConfig {
  std::string stat_prefix;
  // "<stat_prefix>.http_local_rate_limit.<name>", built once so a request builds no strings.
  struct StatNames {
    std::string enabled, ok, rate_limited, enforced;
  } stat_names;
  uint32_t status = 429;                      // envoy.type.v3.HttpStatus; Envoy's default
  std::shared_ptr<TokenBucket> token_bucket;  // null: no limit (every request ok)
  router::FractionalPercent filter_enabled;   // default 0%
  router::FractionalPercent filter_enforced;  // default 0%
  // response_headers_to_add (on rate-limited replies) as the response side, and
  // request_headers_to_add_when_not_enforced as the request side, compiled once into `headers`
  // (which points into `header_options`: both live and move together in this config).
  router::HeaderMutations header_options;
  router::HeaderMutator headers;
  bool rate_limited_as_resource_exhausted = false;  // gRPC: RESOURCE_EXHAUSTED, not UNAVAILABLE
};

std::unique_ptr<FilterFactory> CreateLocalRateLimitFilterFactory(
    std::string name, std::shared_ptr<const LocalRateLimitConfig> config);

}  // namespace weft::filters
