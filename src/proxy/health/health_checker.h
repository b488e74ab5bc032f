// Active health checking for one cluster (envoy.config.core.v3.HealthCheck), on the main thread:
// one session per host, each with its own connection and timers, probing with HTTP (a GET whose
// status must be in expected_statuses), gRPC (grpc.health.v1.Health/Check over HTTP/2, which
// must answer SERVING; grpc/doc/health-checking.md) or TCP (connect, optionally send bytes and
// expect others back in order).
//
// The verdict follows Envoy
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/health_checking):
//   - a new host starts failed (FAILED_ACTIVE_HC) and its first passing check alone makes it
//     healthy (health_check.proto: "during startup, only a single successful health check is
//     required"); later it takes healthy_threshold passes in a row;
//   - a healthy host turns unhealthy after unhealthy_threshold failures in a row, or at once
//     when an HTTP check answers a status outside expected_statuses or a gRPC check anything
//     but grpc-status 0 with SERVING;
//   - the next check waits interval (+ jitter), healthy_edge_interval right after turning
//     healthy, unhealthy_interval while unhealthy and unhealthy_edge_interval right after turning
//     unhealthy.
// The checker only reports verdicts; the cluster manager owns the health flags and republishes
// the cluster to the workers.
//
// Not thread-safe: main thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "base/random.h"
#include "event/dispatcher.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster_config.h"
#include "proxy/upstream/host.h"

namespace weft::health {

// clang-format off
#define WEFT_HEALTH_CHECK_COUNTERS(X) \
  X(attempt) \
  X(success) \
  X(failure) \
  X(network_failure) \
  X(passive_failure) \
  X(verify_cluster)
// clang-format on

struct HealthCheckStats {
#define WEFT_DECLARE_COUNTER(name) stats::Counter& name;
  WEFT_HEALTH_CHECK_COUNTERS(WEFT_DECLARE_COUNTER)
#undef WEFT_DECLARE_COUNTER
  stats::Gauge& healthy;
  stats::Gauge& degraded;
  // "<stat_prefix>health_check.<name>", stat_prefix = "cluster.<name>.".
  static HealthCheckStats Create(stats::Store& store, const std::string& stat_prefix);
};

class HealthChecker {
 public:
  // `on_change(address, healthy)`: a host's verdict changed. `on_pass(address)`: a check passed
  // (outlier detection may return an ejected host on it).
  using OnChange = std::function<void(const std::string& address, bool healthy)>;
  using OnPass = std::function<void(const std::string& address)>;

  HealthChecker(event::Dispatcher& dispatcher,
                std::shared_ptr<const upstream::ClusterConfig> cluster, stats::Store& store,
                const std::string& stat_prefix, Random& random, OnChange on_change, OnPass on_pass);
  ~HealthChecker();

  // Starts sessions for new hosts and ends those of hosts that left.
  void SetHosts(const upstream::HostSet& hosts);
  // Whether the host passed its checks (false for unknown hosts and before the first pass).
  bool IsHealthy(const std::string& address) const;

 private:
  class Session;
  friend class Session;
  std::chrono::milliseconds NextInterval(std::chrono::milliseconds base);
  void UpdateHealthyGauge();

  event::Dispatcher& dispatcher_;
  std::shared_ptr<const upstream::ClusterConfig> cluster_;
  const upstream::HealthCheckConfig& config_;
  HealthCheckStats stats_;
  Random& random_;
  OnChange on_change_;
  OnPass on_pass_;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
};

// Whether `status` passes an HTTP check: in one of the [start, end) ranges, or 200 when none.
bool IsExpectedStatus(const upstream::HealthCheckConfig& config, uint32_t status);
// TCP receive matching: each payload must appear in `data`, in order, not necessarily adjacent.
bool ContainsPayloadsInOrder(std::string_view data, const std::vector<std::string>& payloads);

}  // namespace weft::health
