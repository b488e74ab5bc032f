#include "proxy/health/outlier_detector.h"

#include "gtest/gtest.h"

namespace weft::health {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Always rolls 0: every enforcing_* > 0 enforces.
class ZeroRandom final : public Random {
 public:
  uint64_t Next() override { return 0; }
};

std::vector<RateSample> Samples(const std::vector<double>& rates, uint64_t requests = 100) {
  std::vector<RateSample> out;
  for (size_t i = 0; i < rates.size(); ++i)
    out.push_back({"h" + std::to_string(i), requests, rates[i]});
  return out;
}

TEST(SuccessRateTest, EjectsBelowMeanMinusStdevFactor) {
  std::optional<double> threshold;
  auto outliers = SuccessRateOutliers(Samples({100, 100, 100, 100, 50}), 5, 100, 1900, &threshold);
  // mean 90, stdev 20 -> threshold 90 - 1.9 * 20 = 52.
  ASSERT_TRUE(threshold.has_value());
  EXPECT_DOUBLE_EQ(*threshold, 52.0);
  EXPECT_EQ(outliers, std::vector<std::string>{"h4"});
  // A looser factor (3.0) spares it: 90 - 60 = 30.
  EXPECT_TRUE(SuccessRateOutliers(Samples({100, 100, 100, 100, 50}), 5, 100, 3000).empty());
}

TEST(SuccessRateTest, NeedsEnoughHostsWithEnoughRequests) {
  std::optional<double> threshold = 1;
  EXPECT_TRUE(SuccessRateOutliers(Samples({100, 100, 100, 50}), 5, 100, 1900, &threshold).empty());
  EXPECT_FALSE(threshold.has_value());
  // Five hosts, but one below request_volume: four count, too few.
  auto samples = Samples({100, 100, 100, 100, 50});
  samples[0].requests = 99;
  EXPECT_TRUE(SuccessRateOutliers(samples, 5, 100, 1900).empty());
  // Identical rates: stdev 0, nobody is below the mean.
  EXPECT_TRUE(SuccessRateOutliers(Samples({90, 90, 90, 90, 90}), 5, 100, 1900).empty());
}

TEST(FailurePercentageTest, EjectsAtOrAboveThreshold) {
  auto outliers = FailurePercentageOutliers(Samples({100, 15, 14, 100, 100}), 5, 50, 85);
  EXPECT_EQ(outliers, (std::vector<std::string>{"h1", "h2"}));  // 85% and 86% failures
  EXPECT_TRUE(FailurePercentageOutliers(Samples({0, 0, 0, 0}), 5, 50, 85).empty());
  EXPECT_TRUE(FailurePercentageOutliers(Samples({0, 0, 0, 0, 0}, 49), 5, 50, 85).empty());
}

TEST(EjectionDurationTest, GrowsWithEjectionsUpToMax) {
  upstream::OutlierDetectionConfig c;  // base 30s, max 300s
  EXPECT_EQ(EjectionDuration(c, 1), seconds(30));
  EXPECT_EQ(EjectionDuration(c, 2), seconds(60));
  EXPECT_EQ(EjectionDuration(c, 10), seconds(300));
  EXPECT_EQ(EjectionDuration(c, 50), seconds(300));
  c.max_ejection_time = seconds(10);  // below base: base wins
  EXPECT_EQ(EjectionDuration(c, 3), seconds(30));
}

class OutlierDetectorTest : public ::testing::Test {
 protected:
  OutlierDetectorTest() { config_.max_ejection_percent = 100; }
  OutlierDetector& Make() {
    detector_ = std::make_unique<OutlierDetector>(config_, store_, "cluster.c.", random_);
    detector_->SetHosts({"a", "b", "c", "d"});
    return *detector_;
  }
  uint64_t Counter(const std::string& name) {
    return store_.counter("cluster.c.outlier_detection." + name).value();
  }
  int64_t Active() { return store_.gauge("cluster.c.outlier_detection.ejections_active").value(); }

  upstream::OutlierDetectionConfig config_;
  stats::Store store_;
  ZeroRandom random_;
  std::unique_ptr<OutlierDetector> detector_;
  event::MonotonicTime t0_ = event::MonotonicTime() + seconds(1000);
};

TEST_F(OutlierDetectorTest, ConsecutiveFailureEjectsAndReturnsAfterBaseTime) {
  OutlierDetector& d = Make();
  EXPECT_TRUE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_));
  EXPECT_TRUE(d.IsEjected("a"));
  EXPECT_EQ(Active(), 1);
  EXPECT_EQ(Counter("ejections_enforced_consecutive_5xx"), 1u);
  EXPECT_EQ(Counter("ejections_detected_consecutive_5xx"), 1u);
  EXPECT_EQ(Counter("ejections_enforced_total"), 1u);
  // Already ejected: nothing new.
  EXPECT_FALSE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_));

  EXPECT_FALSE(d.OnInterval(t0_ + seconds(29), {}));
  EXPECT_TRUE(d.IsEjected("a"));
  EXPECT_TRUE(d.OnInterval(t0_ + seconds(30), {}));
  EXPECT_FALSE(d.IsEjected("a"));
  EXPECT_EQ(Active(), 0);

  // Second ejection soon after lasts twice as long (the multiplier was 1, decayed by the one
  // interval above... it is decremented only for intervals the host spends back in).
  EXPECT_TRUE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_ + seconds(31)));
  EXPECT_FALSE(d.OnInterval(t0_ + seconds(31 + 59), {}));
  EXPECT_TRUE(d.OnInterval(t0_ + seconds(31 + 60), {}));
}

TEST_F(OutlierDetectorTest, MultiplierDecaysWhileTheHostStaysIn) {
  OutlierDetector& d = Make();
  d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_);
  d.OnInterval(t0_ + seconds(30), {});  // back; multiplier stays 1
  d.OnInterval(t0_ + seconds(40), {});  // a healthy interval: multiplier 0
  EXPECT_TRUE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_ + seconds(41)));
  EXPECT_TRUE(d.OnInterval(t0_ + seconds(41 + 30), {}));  // base time again, not doubled
}

TEST_F(OutlierDetectorTest, MaxEjectionPercentOverflows) {
  config_.max_ejection_percent = 50;  // 2 of 4
  OutlierDetector& d = Make();
  EXPECT_TRUE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_));
  EXPECT_TRUE(d.OnConsecutiveFailure("b", EjectionType::kConsecutive5xx, t0_));
  EXPECT_FALSE(d.OnConsecutiveFailure("c", EjectionType::kConsecutive5xx, t0_));
  EXPECT_EQ(Counter("ejections_overflow"), 1u);
  EXPECT_EQ(d.ejected_count(), 2u);
}

TEST_F(OutlierDetectorTest, DefaultTenPercentEjectsNoneOfFewHostsUnlessAlwaysEjectOne) {
  config_.max_ejection_percent = 10;
  OutlierDetector& d = Make();
  EXPECT_FALSE(d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_));
  EXPECT_EQ(Counter("ejections_overflow"), 1u);
  config_.always_eject_one_host = true;
  OutlierDetector& d2 = Make();
  EXPECT_TRUE(d2.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_));
  EXPECT_FALSE(d2.OnConsecutiveFailure("b", EjectionType::kConsecutive5xx, t0_));
}

TEST_F(OutlierDetectorTest, EnforcingZeroDetectsWithoutEjecting) {
  // enforcing_consecutive_gateway_failure defaults to 0.
  OutlierDetector& d = Make();
  EXPECT_FALSE(d.OnConsecutiveFailure("a", EjectionType::kConsecutiveGatewayFailure, t0_));
  EXPECT_EQ(Counter("ejections_detected_consecutive_gateway_failure"), 1u);
  EXPECT_EQ(Counter("ejections_enforced_consecutive_gateway_failure"), 0u);
}

TEST_F(OutlierDetectorTest, SuccessRateFromIntervalDeltas) {
  config_.success_rate_minimum_hosts = 4;
  config_.success_rate_request_volume = 10;
  // With 4 hosts one outlier is at most sqrt(3) = 1.73 stdevs out, so the default 1.9 could
  // never eject it: use 1.0.
  config_.success_rate_stdev_factor = 1000;
  OutlierDetector& d = Make();
  std::map<std::string, OutcomeTotals> totals = {
      {"a", {100, 0}}, {"b", {100, 0}}, {"c", {100, 0}}, {"d", {100, 0}}};
  EXPECT_FALSE(d.OnInterval(t0_, totals));
  EXPECT_DOUBLE_EQ(d.SuccessRate("a"), 100);
  // Next interval: d fails half of its 100 new requests; the others are perfect.
  totals = {{"a", {200, 0}}, {"b", {200, 0}}, {"c", {200, 0}}, {"d", {200, 50}}};
  EXPECT_TRUE(d.OnInterval(t0_ + seconds(10), totals));
  EXPECT_TRUE(d.IsEjected("d"));
  EXPECT_EQ(Counter("ejections_enforced_success_rate"), 1u);
  EXPECT_DOUBLE_EQ(d.SuccessRate("a"), 100);
  EXPECT_DOUBLE_EQ(d.SuccessRate("d"), 50);  // the rate that ejected it
  // While ejected a host takes no traffic and is not rated.
  EXPECT_FALSE(d.OnInterval(t0_ + seconds(20), totals));
  EXPECT_DOUBLE_EQ(d.SuccessRate("d"), -1);
}

TEST_F(OutlierDetectorTest, ActiveHealthCheckSuccessUnejects) {
  OutlierDetector& d = Make();
  d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_);
  EXPECT_TRUE(d.OnActiveHealthCheckSuccess("a"));
  EXPECT_FALSE(d.IsEjected("a"));
  EXPECT_FALSE(d.OnActiveHealthCheckSuccess("a"));
}

TEST_F(OutlierDetectorTest, HostsThatLeaveAreForgotten) {
  OutlierDetector& d = Make();
  d.OnConsecutiveFailure("a", EjectionType::kConsecutive5xx, t0_);
  d.SetHosts({"b", "c"});
  EXPECT_FALSE(d.IsEjected("a"));
  EXPECT_EQ(Active(), 0);
}

class RecorderTest : public ::testing::Test {
 protected:
  stats::Store store_;  // before the recorder, whose counters live in it
  HostOutcomeRecorder recorder_{HostOutcomeCounters::Create(store_, "c", "h:1")};
  upstream::OutlierDetectionConfig config_;
  static constexpr uint32_t k5xx = 1u << static_cast<int>(EjectionType::kConsecutive5xx);
  static constexpr uint32_t kGateway =
      1u << static_cast<int>(EjectionType::kConsecutiveGatewayFailure);
  static constexpr uint32_t kLocal =
      1u << static_cast<int>(EjectionType::kConsecutiveLocalOriginFailure);
  uint32_t Status(uint32_t code) {
    return recorder_.Record({HostResult::Kind::kHttpStatus, code}, config_);
  }
  uint32_t Local(HostResult::Kind kind) { return recorder_.Record({kind, 0}, config_); }
};

TEST_F(RecorderTest, Consecutive5xxFiresAtThresholdAndSuccessResets) {
  config_.consecutive_5xx = 3;
  config_.consecutive_gateway_failure = 100;
  EXPECT_EQ(Status(500), 0u);
  EXPECT_EQ(Status(500), 0u);
  EXPECT_EQ(Status(200), 0u);  // the run is broken
  EXPECT_EQ(Status(500), 0u);
  EXPECT_EQ(Status(501), 0u);
  EXPECT_EQ(Status(500), k5xx);
  EXPECT_EQ(Status(500), 0u);  // counting starts again
  EXPECT_EQ(store_.counter("c::h:1::outlier.external_total").value(), 7u);
  EXPECT_EQ(store_.counter("c::h:1::outlier.external_failed").value(), 6u);
}

TEST_F(RecorderTest, GatewayFailuresAreOnly502To504) {
  config_.consecutive_5xx = 100;
  config_.consecutive_gateway_failure = 2;
  EXPECT_EQ(Status(502), 0u);
  EXPECT_EQ(Status(500), 0u);  // a 5xx that is not a gateway error resets the gateway run
  EXPECT_EQ(Status(503), 0u);
  EXPECT_EQ(Status(504), kGateway);
}

TEST_F(RecorderTest, LocalOriginErrorsCountAs5xxWithoutSplit) {
  config_.consecutive_5xx = 3;
  config_.consecutive_gateway_failure = 3;
  EXPECT_EQ(Local(HostResult::Kind::kConnectFailed), 0u);
  EXPECT_EQ(Local(HostResult::Kind::kConnectSuccess), 0u);  // ignored without the split
  EXPECT_EQ(Local(HostResult::Kind::kReset), 0u);
  EXPECT_EQ(Local(HostResult::Kind::kTimeout), k5xx | kGateway);
}

TEST_F(RecorderTest, SplitModeCountsLocalOriginSeparately) {
  config_.split_external_local_origin_errors = true;
  config_.consecutive_local_origin_failure = 2;
  config_.consecutive_5xx = 2;
  EXPECT_EQ(Local(HostResult::Kind::kConnectFailed), 0u);
  EXPECT_EQ(Local(HostResult::Kind::kConnectSuccess), 0u);  // breaks the local run
  EXPECT_EQ(Local(HostResult::Kind::kConnectFailed), 0u);
  EXPECT_EQ(Local(HostResult::Kind::kTimeout), kLocal);
  EXPECT_EQ(Status(503), 0u);  // 5xx stay external: no local failure, no 5xx yet
  EXPECT_EQ(Status(503), k5xx);
  EXPECT_EQ(store_.counter("c::h:1::outlier.local_failed").value(), 3u);
  EXPECT_EQ(store_.counter("c::h:1::outlier.local_total").value(), 5u);
}

}  // namespace
}  // namespace weft::health
