// What a worker learns about one request to one host, and its per-worker running counts, for
// outlier detection (envoy.config.cluster.v3.OutlierDetection).
//
// Each worker keeps a HostOutcomeRecorder per host (inside the host's connection pool). The
// interval statistics (success rate, failure percentage) are stats counters: written by the
// worker only, summed by the main thread once per interval, so no request posts anything across
// threads. Consecutive-failure counts are kept per worker and the worker posts to the main
// thread only when one reaches its threshold, so a consecutive_5xx ejection happens at once.
// With several workers that means "N consecutive failures seen by one worker" (Envoy counts
// across workers); requests to a host that fails every time still trip it on every worker.
//
// Not thread-safe: one recorder per worker per host.
#pragma once

#include <cstdint>

#include "proxy/stats/stats.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::health {

struct HostResult {
  enum class Kind {
    kHttpStatus,      // the host answered with `status` (external origin)
    kConnectFailed,   // local origin: connect refused/failed
    kTimeout,         // local origin: connect or request timed out
    kReset,           // local origin: the connection dropped before a response
    kConnectSuccess,  // local origin success (counts only with split_external_local_origin_errors)
  };
  Kind kind = Kind::kHttpStatus;
  uint32_t status = 0;
};

// Envoy's names for the ejection causes (ejections_detected_<name>, ...).
enum class EjectionType : uint8_t {
  kConsecutive5xx,
  kConsecutiveGatewayFailure,
  kConsecutiveLocalOriginFailure,
  kSuccessRate,
  kSuccessRateLocalOrigin,
  kFailurePercentage,
  kFailurePercentageLocalOrigin,
};
const char* EjectionTypeName(EjectionType type);  // "consecutive_5xx", ...
inline constexpr int kEjectionTypes = 7;

// The interval counters of one host on one worker; the main thread sums them over workers.
struct HostOutcomeCounters {
  stats::Counter& external_total;
  stats::Counter& external_failed;
  stats::Counter& local_total;
  stats::Counter& local_failed;
  // Names "<cluster>::<address>::outlier.<counter>", in the per-host store beside HostStats.
  static HostOutcomeCounters Create(stats::Store& store, const std::string& cluster,
                                    const std::string& address);
};

class HostOutcomeRecorder {
 public:
  explicit HostOutcomeRecorder(HostOutcomeCounters counters) : counters_(counters) {}
  // Records one result. Returns a bit (1 << EjectionType) for each consecutive counter that
  // reached its threshold with this result (that counter then starts again from zero).
  uint32_t Record(const HostResult& result, const upstream::OutlierDetectionConfig& config);

 private:
  uint32_t RecordHttpStatus(uint32_t status, const upstream::OutlierDetectionConfig& config);

  HostOutcomeCounters counters_;
  uint32_t consecutive_5xx_ = 0;
  uint32_t consecutive_gateway_failure_ = 0;
  uint32_t consecutive_local_origin_failure_ = 0;
};

}  // namespace weft::health
