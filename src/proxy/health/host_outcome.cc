#include "proxy/health/host_outcome.h"

#include <string>

namespace weft::health {

const char* EjectionTypeName(EjectionType type) {
  switch (type) {
    case EjectionType::kConsecutive5xx:
      return "consecutive_5xx";
    case EjectionType::kConsecutiveGatewayFailure:
      return "consecutive_gateway_failure";
    case EjectionType::kConsecutiveLocalOriginFailure:
      return "consecutive_local_origin_failure";
    case EjectionType::kSuccessRate:
      return "success_rate";
    case EjectionType::kSuccessRateLocalOrigin:
      return "local_origin_success_rate";
    case EjectionType::kFailurePercentage:
      return "failure_percentage";
    case EjectionType::kFailurePercentageLocalOrigin:
      return "local_origin_failure_percentage";
  }
  return "unknown";
}

HostOutcomeCounters HostOutcomeCounters::Create(stats::Store& store, const std::string& cluster,
                                                const std::string& address) {
  const std::string p = cluster + "::" + address + "::outlier.";
  return HostOutcomeCounters{store.counter(p + "external_total"),
                             store.counter(p + "external_failed"), store.counter(p + "local_total"),
                             store.counter(p + "local_failed")};
}

namespace {
constexpr uint32_t Bit(EjectionType type) { return 1u << static_cast<uint32_t>(type); }
}  // namespace

uint32_t HostOutcomeRecorder::RecordHttpStatus(uint32_t status,
                                               const upstream::OutlierDetectionConfig& config) {
  uint32_t reached = 0;
  counters_.external_total.Inc();
  if (status < 500) {
    consecutive_5xx_ = 0;
    consecutive_gateway_failure_ = 0;
    return 0;
  }
  counters_.external_failed.Inc();
  // Gateway failures are 502, 503 and 504 (Envoy's CodeUtility::isGatewayError).
  if (status >= 502 && status <= 504) {
    if (++consecutive_gateway_failure_ >= config.consecutive_gateway_failure) {
      consecutive_gateway_failure_ = 0;
      reached |= Bit(EjectionType::kConsecutiveGatewayFailure);
    }
  } else {
    consecutive_gateway_failure_ = 0;
  }
  if (++consecutive_5xx_ >= config.consecutive_5xx) {
    consecutive_5xx_ = 0;
    reached |= Bit(EjectionType::kConsecutive5xx);
  }
  return reached;
}

uint32_t HostOutcomeRecorder::Record(const HostResult& result,
                                     const upstream::OutlierDetectionConfig& config) {
  using Kind = HostResult::Kind;
  if (result.kind == Kind::kHttpStatus) {
    if (config.split_external_local_origin_errors) {
      // An answer means the request reached the host: a local-origin success.
      counters_.local_total.Inc();
      consecutive_local_origin_failure_ = 0;
    }
    return RecordHttpStatus(result.status, config);
  }
  if (!config.split_external_local_origin_errors) {
    // Without the split, Envoy folds local-origin errors into the HTTP counters: a failed
    // connection or reset counts as a 503, a timeout as a 504. Connect successes do not count.
    switch (result.kind) {
      case Kind::kConnectFailed:
      case Kind::kReset:
        return RecordHttpStatus(503, config);
      case Kind::kTimeout:
        return RecordHttpStatus(504, config);
      default:
        return 0;
    }
  }
  if (result.kind == Kind::kConnectSuccess) {
    // Per connection, not per request: it ends a run of failures but is not a sample.
    consecutive_local_origin_failure_ = 0;
    return 0;
  }
  counters_.local_total.Inc();
  counters_.local_failed.Inc();
  if (++consecutive_local_origin_failure_ >= config.consecutive_local_origin_failure) {
    consecutive_local_origin_failure_ = 0;
    return Bit(EjectionType::kConsecutiveLocalOriginFailure);
  }
  return 0;
}

}  // namespace weft::health
