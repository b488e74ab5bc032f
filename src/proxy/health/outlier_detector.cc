#include "proxy/health/outlier_detector.h"

#include <algorithm>
#include <cmath>

namespace weft::health {

std::vector<std::string> SuccessRateOutliers(const std::vector<RateSample>& samples,
                                             uint32_t minimum_hosts, uint64_t request_volume,
                                             uint32_t stdev_factor,
                                             std::optional<double>* threshold) {
  if (threshold) threshold->reset();
  std::vector<const RateSample*> eligible;
  for (const RateSample& s : samples) {
    if (s.requests >= request_volume) eligible.push_back(&s);
  }
  if (eligible.empty() || eligible.size() < minimum_hosts) return {};
  double mean = 0;
  for (const RateSample* s : eligible) mean += s->success_rate;
  mean /= static_cast<double>(eligible.size());
  double variance = 0;
  for (const RateSample* s : eligible)
    variance += (s->success_rate - mean) * (s->success_rate - mean);
  variance /= static_cast<double>(eligible.size());
  const double limit = mean - (stdev_factor / 1000.0) * std::sqrt(variance);
  if (threshold) *threshold = limit;
  std::vector<std::string> outliers;
  for (const RateSample* s : eligible) {
    if (s->success_rate < limit) outliers.push_back(s->address);
  }
  return outliers;
}

std::vector<std::string> FailurePercentageOutliers(const std::vector<RateSample>& samples,
                                                   uint32_t minimum_hosts, uint64_t request_volume,
                                                   uint32_t threshold_percent) {
  std::vector<const RateSample*> eligible;
  for (const RateSample& s : samples) {
    if (s.requests >= request_volume) eligible.push_back(&s);
  }
  if (eligible.empty() || eligible.size() < minimum_hosts) return {};
  std::vector<std::string> outliers;
  for (const RateSample* s : eligible) {
    if (100.0 - s->success_rate >= threshold_percent) outliers.push_back(s->address);
  }
  return outliers;
}

std::chrono::milliseconds EjectionDuration(const upstream::OutlierDetectionConfig& config,
                                           uint32_t times_ejected) {
  // Envoy caps the growth at max_ejection_time, but never below base_ejection_time.
  const auto cap = std::max(config.max_ejection_time, config.base_ejection_time);
  const auto grown = config.base_ejection_time * std::max<uint32_t>(times_ejected, 1);
  return std::min(grown, cap);
}

OutlierDetector::OutlierDetector(const upstream::OutlierDetectionConfig& config,
                                 stats::Store& store, const std::string& stat_prefix,
                                 Random& random)
    : config_(config),
      random_(random),
      stats_{store.gauge(stat_prefix + "outlier_detection.ejections_active"),
             store.counter(stat_prefix + "outlier_detection.ejections_enforced_total"),
             store.counter(stat_prefix + "outlier_detection.ejections_overflow"),
             store.counter(stat_prefix + "outlier_detection.ejections_total"),
             {},
             {}} {
  for (int i = 0; i < kEjectionTypes; ++i) {
    const std::string name = EjectionTypeName(static_cast<EjectionType>(i));
    stats_.detected.push_back(
        &store.counter(stat_prefix + "outlier_detection.ejections_detected_" + name));
    stats_.enforced.push_back(
        &store.counter(stat_prefix + "outlier_detection.ejections_enforced_" + name));
  }
}

void OutlierDetector::SetHosts(const std::vector<std::string>& addresses) {
  std::map<std::string, HostState> next;
  for (const std::string& a : addresses) {
    auto it = hosts_.find(a);
    next[a] = it == hosts_.end() ? HostState{} : it->second;
  }
  hosts_ = std::move(next);
  stats_.ejections_active.Set(static_cast<int64_t>(ejected_count()));
}

uint32_t OutlierDetector::EnforcingPercent(EjectionType type) const {
  switch (type) {
    case EjectionType::kConsecutive5xx:
      return config_.enforcing_consecutive_5xx;
    case EjectionType::kConsecutiveGatewayFailure:
      return config_.enforcing_consecutive_gateway_failure;
    case EjectionType::kConsecutiveLocalOriginFailure:
      return config_.enforcing_consecutive_local_origin_failure;
    case EjectionType::kSuccessRate:
      return config_.enforcing_success_rate;
    case EjectionType::kSuccessRateLocalOrigin:
      return config_.enforcing_local_origin_success_rate;
    case EjectionType::kFailurePercentage:
      return config_.enforcing_failure_percentage;
    case EjectionType::kFailurePercentageLocalOrigin:
      return config_.enforcing_failure_percentage_local_origin;
  }
  return 0;
}

bool OutlierDetector::TryEject(const std::string& address, HostState& host, EjectionType type,
                               event::MonotonicTime now) {
  (void)address;
  if (host.ejected_at) return false;
  stats_.detected[static_cast<size_t>(type)]->Inc();
  stats_.ejections_total.Inc();
  if (random_.Uniform(100) >= EnforcingPercent(type)) return false;
  // Envoy's guard: the ejection must keep the ejected share within max_ejection_percent,
  // counting the host about to go (always_eject_one_host lets the first one through).
  const size_t active = ejected_count();
  const double after = 100.0 * static_cast<double>(active + 1) / static_cast<double>(hosts_.size());
  if (after > config_.max_ejection_percent && !(config_.always_eject_one_host && active == 0)) {
    stats_.ejections_overflow.Inc();
    return false;
  }
  host.ejected_at = now;
  ++host.times_ejected;
  stats_.enforced[static_cast<size_t>(type)]->Inc();
  stats_.ejections_enforced_total.Inc();
  stats_.ejections_active.Set(static_cast<int64_t>(ejected_count()));
  return true;
}

void OutlierDetector::Uneject(HostState& host) {
  host.ejected_at.reset();
  stats_.ejections_active.Set(static_cast<int64_t>(ejected_count()));
}

bool OutlierDetector::OnConsecutiveFailure(const std::string& address, EjectionType type,
                                           event::MonotonicTime now) {
  auto it = hosts_.find(address);
  if (it == hosts_.end()) return false;
  return TryEject(address, it->second, type, now);
}

bool OutlierDetector::OnInterval(event::MonotonicTime now,
                                 const std::map<std::string, OutcomeTotals>& totals) {
  bool changed = false;
  // Returns first, then the multiplier of hosts that stayed in decays by one per interval.
  for (auto& [address, host] : hosts_) {
    if (host.ejected_at) {
      if (now - *host.ejected_at >= EjectionDuration(config_, host.times_ejected)) {
        Uneject(host);
        changed = true;
      }
    } else if (host.times_ejected > 0) {
      --host.times_ejected;
    }
  }

  // This interval's samples.
  std::vector<RateSample> external, local;
  for (auto& [address, host] : hosts_) {
    OutcomeTotals now_totals;
    if (auto t = totals.find(address); t != totals.end()) now_totals = t->second;
    const OutcomeTotals& was = host.last;
    // A pool that was recreated restarts its counters; treat a drop as a fresh start.
    auto delta = [](uint64_t now_v, uint64_t was_v) {
      return now_v >= was_v ? now_v - was_v : now_v;
    };
    const uint64_t ext = delta(now_totals.external_total, was.external_total);
    const uint64_t ext_failed =
        std::min(ext, delta(now_totals.external_failed, was.external_failed));
    const uint64_t loc = delta(now_totals.local_total, was.local_total);
    const uint64_t loc_failed = std::min(loc, delta(now_totals.local_failed, was.local_failed));
    host.last = now_totals;
    host.success_rate = -1;
    if (host.ejected_at) continue;  // ejected hosts take no traffic and are not compared
    if (ext > 0) external.push_back({address, ext, 100.0 * (ext - ext_failed) / ext});
    if (loc > 0) local.push_back({address, loc, 100.0 * (loc - loc_failed) / loc});
  }

  auto eject_all = [&](const std::vector<std::string>& outliers, EjectionType type) {
    for (const std::string& address : outliers) {
      auto it = hosts_.find(address);
      if (it != hosts_.end() && TryEject(address, it->second, type, now)) changed = true;
    }
  };
  std::optional<double> threshold;
  eject_all(SuccessRateOutliers(external, config_.success_rate_minimum_hosts,
                                config_.success_rate_request_volume,
                                config_.success_rate_stdev_factor, &threshold),
            EjectionType::kSuccessRate);
  if (threshold) {
    for (const RateSample& s : external) hosts_[s.address].success_rate = s.success_rate;
  }
  eject_all(FailurePercentageOutliers(external, config_.failure_percentage_minimum_hosts,
                                      config_.failure_percentage_request_volume,
                                      config_.failure_percentage_threshold),
            EjectionType::kFailurePercentage);
  if (config_.split_external_local_origin_errors) {
    eject_all(
        SuccessRateOutliers(local, config_.success_rate_minimum_hosts,
                            config_.success_rate_request_volume, config_.success_rate_stdev_factor),
        EjectionType::kSuccessRateLocalOrigin);
    eject_all(FailurePercentageOutliers(local, config_.failure_percentage_minimum_hosts,
                                        config_.failure_percentage_request_volume,
                                        config_.failure_percentage_threshold),
              EjectionType::kFailurePercentageLocalOrigin);
  }
  return changed;
}

bool OutlierDetector::OnActiveHealthCheckSuccess(const std::string& address) {
  if (!config_.successful_active_health_check_uneject_host) return false;
  auto it = hosts_.find(address);
  if (it == hosts_.end() || !it->second.ejected_at) return false;
  Uneject(it->second);
  return true;
}

bool OutlierDetector::IsEjected(const std::string& address) const {
  auto it = hosts_.find(address);
  return it != hosts_.end() && it->second.ejected_at.has_value();
}

double OutlierDetector::SuccessRate(const std::string& address) const {
  auto it = hosts_.find(address);
  return it == hosts_.end() ? -1 : it->second.success_rate;
}

size_t OutlierDetector::ejected_count() const {
  size_t n = 0;
  for (const auto& [address, host] : hosts_) n += host.ejected_at ? 1 : 0;
  return n;
}

}  // namespace weft::health
