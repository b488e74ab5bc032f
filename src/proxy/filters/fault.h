// envoy.filters.http.fault: injects delays and aborts into a share of requests, so a team can
// test how its services behave when a dependency is slow or failing (Istio's VirtualService
// `fault`). Semantics follow Envoy's HTTPFault
// (envoy/extensions/filters/http/fault/v3/fault.proto):
//   - the fault applies only to requests matching every `headers` matcher, going to
//     `upstream_cluster` (if set), from one of `downstream_nodes` (if set; the
//     x-envoy-downstream-service-node header);
//   - a delay is injected first, then the abort (so a request can get both);
//   - header_delay / header_abort take the value from the x-envoy-fault-delay-request /
//     x-envoy-fault-abort-request / x-envoy-fault-abort-grpc-request request headers, and the
//     x-envoy-fault-*-request-percentage headers lower (never raise) the configured percentage;
//   - max_active_faults bounds the faults in progress across all workers (faults_overflow).
// Response flags: DI (delay injected), FI (fault injected: abort).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/filters/filter.h"
#include "proxy/router/route_config.h"

namespace weft::filters {

struct FaultConfig : router::RouteFilterConfig {
  struct Delay {
    std::optional<router::Milliseconds> fixed_delay;  // unset: header_delay
    router::FractionalPercent percentage;
  };
  struct Abort {
    std::optional<uint32_t> http_status;  // one of http_status / grpc_status / header_abort
    std::optional<uint32_t> grpc_status;
    bool header_abort = false;
    router::FractionalPercent percentage;
  };
  std::optional<Delay> delay;
  std::optional<Abort> abort;
  std::string upstream_cluster;
  std::vector<router::HeaderMatcher> headers;
  std::vector<std::string> downstream_nodes;
  std::optional<uint32_t> max_active_faults;
  // Faults in progress under this config, across workers (for max_active_faults).
  std::shared_ptr<std::atomic<uint64_t>> active_faults = std::make_shared<std::atomic<uint64_t>>(0);
};

std::unique_ptr<FilterFactory> CreateFaultFilterFactory(std::string name,
                                                        std::shared_ptr<const FaultConfig> config);

}  // namespace weft::filters
