// Outlier detection for one cluster, on the main thread: decides which hosts to eject
// (FAILED_OUTLIER_CHECK) and when they return, following envoy.config.cluster.v3.OutlierDetection
// (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier).
//
//   - Consecutive failures (5xx, gateway failure, local origin) arrive from workers as soon as a
//     worker's count reaches the threshold (host_outcome.h) and eject at once.
//   - Every `interval`: hosts whose ejection time is over come back; a host not ejected sees its
//     ejection multiplier decrease by one; then success rate and failure percentage are computed
//     from the interval's request counts (summed over workers) and outliers ejected.
//   - An ejection lasts base_ejection_time * (times ejected), at most
//     max(base_ejection_time, max_ejection_time).
//   - At most max_ejection_percent of the hosts are ejected at once (an ejection that would pass
//     it counts ejections_overflow instead; always_eject_one_host lets the first one through).
//   - enforcing_* is the percent chance that a detected outlier is really ejected.
//
// Time and randomness are passed in, so the rules are tested without sleeping.
// Not thread-safe: main thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/random.h"
#include "event/dispatcher.h"
#include "proxy/health/host_outcome.h"
#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::health {

// Cumulative request counts of one host since it appeared, summed over workers.
struct OutcomeTotals {
  uint64_t external_total = 0, external_failed = 0;
  uint64_t local_total = 0, local_failed = 0;
};

// One host's interval sample for the success-rate / failure-percentage rules.
struct RateSample {
  std::string address;
  uint64_t requests = 0;
  double success_rate = 100;  // percent
};

// Success-rate rule: with at least `minimum_hosts` samples of at least `request_volume`
// requests, hosts below mean - stdev_factor/1000 * stdev are outliers. Returns their addresses;
// `threshold` (if given) receives the computed threshold, or nullopt when the rule did not run.
std::vector<std::string> SuccessRateOutliers(const std::vector<RateSample>& samples,
                                             uint32_t minimum_hosts, uint64_t request_volume,
                                             uint32_t stdev_factor,
                                             std::optional<double>* threshold = nullptr);
// Failure-percentage rule: hosts whose failure percent is >= threshold, among at least
// `minimum_hosts` samples of at least `request_volume` requests.
std::vector<std::string> FailurePercentageOutliers(const std::vector<RateSample>& samples,
                                                   uint32_t minimum_hosts, uint64_t request_volume,
                                                   uint32_t threshold_percent);
// How long the `times_ejected`-th ejection lasts.
std::chrono::milliseconds EjectionDuration(const upstream::OutlierDetectionConfig& config,
                                           uint32_t times_ejected);

class OutlierDetector {
 public:
  // Stats are "<stat_prefix>outlier_detection.<name>" (stat_prefix = "cluster.<name>.").
  OutlierDetector(const upstream::OutlierDetectionConfig& config, stats::Store& store,
                  const std::string& stat_prefix, Random& random);

  // The cluster's current hosts; state of hosts that left is dropped (an ejected host that
  // leaves no longer counts as ejected).
  void SetHosts(const std::vector<std::string>& addresses);

  // A worker saw `type`'s consecutive threshold reached. True if the host is now ejected.
  bool OnConsecutiveFailure(const std::string& address, EjectionType type,
                            event::MonotonicTime now);
  // The interval timer. `totals` are cumulative per host (hosts missing had no requests).
  // True if any host was ejected or returned.
  bool OnInterval(event::MonotonicTime now, const std::map<std::string, OutcomeTotals>& totals);
  // An active health check passed: returns an ejected host at once
  // (successful_active_health_check_uneject_host). True if it was ejected.
  bool OnActiveHealthCheckSuccess(const std::string& address);

  bool IsEjected(const std::string& address) const;
  // The host's last computed success rate (percent), or -1 when the rule did not run for it.
  double SuccessRate(const std::string& address) const;
  size_t ejected_count() const;

 private:
  struct HostState {
    std::optional<event::MonotonicTime> ejected_at;
    uint32_t times_ejected = 0;  // the ejection multiplier
    OutcomeTotals last;          // totals at the previous interval
    double success_rate = -1;
  };
  struct Stats {
    stats::Gauge& ejections_active;
    stats::Counter& ejections_enforced_total;
    stats::Counter& ejections_overflow;
    stats::Counter& ejections_total;  // detected, enforced or not (Envoy's deprecated counter)
    std::vector<stats::Counter*> detected;  // by EjectionType
    std::vector<stats::Counter*> enforced;  // by EjectionType
  };
  uint32_t EnforcingPercent(EjectionType type) const;
  bool TryEject(const std::string& address, HostState& host, EjectionType type,
                event::MonotonicTime now);
  void Uneject(HostState& host);

  upstream::OutlierDetectionConfig config_;
  Random& random_;
  Stats stats_;
  std::map<std::string, HostState> hosts_;
};

}  // namespace weft::health
