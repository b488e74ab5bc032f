// Cluster.load_balancing_policy and common_lb_config, through the bootstrap loader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

// A bootstrap whose only resource is cluster "c" with `fields` (YAML, indented 4).
std::string Bootstrap(const std::string& fields) {
  return R"Y(
static_resources:
  clusters:
  - name: c
    load_assignment:
      cluster_name: c
      endpoints:
      - locality: {zone: a}
        load_balancing_weight: 80
        lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}}]
      - locality: {zone: b}
        load_balancing_weight: 20
        lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.2, port_value: 8080}}}}]
)Y" + fields;
}

absl::StatusOr<upstream::ClusterConfig> Load(const std::string& fields) {
  auto config = LoadBootstrapFromString(Bootstrap(fields));
  if (!config.ok()) return config.status();
  return *config->clusters.at(0);
}

std::string ErrorOf(const std::string& fields) {
  auto result = Load(fields);
  EXPECT_FALSE(result.ok()) << "loaded unexpectedly";
  return result.ok() ? "" : std::string(result.status().message());
}

constexpr char kPeakEwma[] = R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.peak_ewma
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.load_balancing_policies.peak_ewma.v3alpha.PeakEwma
            value: {decay_time: 5s, default_rtt: 0.050s}
)Y";

TEST(LbPolicyTest, PeakEwmaInATypedStruct) {
  auto c = Load(kPeakEwma);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lb_policy, upstream::LbPolicy::kPeakEwma);
  EXPECT_EQ(c->peak_ewma.decay_time, std::chrono::seconds(5));
  EXPECT_EQ(c->peak_ewma.default_rtt, std::chrono::milliseconds(50));
  EXPECT_FALSE(c->locality_weighted_lb);
}

TEST(LbPolicyTest, PeakEwmaDefaultsAreLinkerds) {
  std::string yaml = kPeakEwma;
  yaml.replace(yaml.find("{decay_time"),
               std::string("{decay_time: 5s, default_rtt: 0.050s}").size(), "{}");
  auto c = Load(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->peak_ewma.decay_time, std::chrono::seconds(10));
  EXPECT_EQ(c->peak_ewma.default_rtt, std::chrono::milliseconds(30));
}

TEST(LbPolicyTest, PeakEwmaRefusesWhatItDoesNotImplement) {
  std::string yaml = kPeakEwma;
  yaml.replace(yaml.find("decay_time: 5s"), 14, "penalty_value: 1000");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("clusters[0].load_balancing_policy.policies[0]."
                                       "typed_extension_config.typed_config.value.penalty_value: "
                                       "not supported"));
  yaml = kPeakEwma;
  yaml.replace(yaml.find("5s"), 2, "fast");
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("value.decay_time: must be a duration"));
}

TEST(LbPolicyTest, EnvoysTypedPoliciesWithLocalityWeighting) {
  auto c = Load(R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.least_request
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest
            choice_count: 3
            locality_lb_config: {locality_weighted_lb_config: {}}
)Y");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lb_policy, upstream::LbPolicy::kLeastRequest);
  EXPECT_EQ(c->least_request.choice_count, 3u);
  EXPECT_TRUE(c->locality_weighted_lb);

  for (auto [type, policy] :
       {std::pair{"round_robin.v3.RoundRobin", upstream::LbPolicy::kRoundRobin},
        std::pair{"random.v3.Random", upstream::LbPolicy::kRandom},
        std::pair{"ring_hash.v3.RingHash", upstream::LbPolicy::kRingHash},
        std::pair{"maglev.v3.Maglev", upstream::LbPolicy::kMaglev}}) {
    auto p = Load(std::string(R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: x
          typed_config: {"@type": type.googleapis.com/envoy.extensions.load_balancing_policies.)Y") +
                  type + "}\n");
    ASSERT_TRUE(p.ok()) << type << ": " << p.status();
    EXPECT_EQ(p->lb_policy, policy) << type;
  }
}

TEST(LbPolicyTest, TheFirstImplementedPolicyWinsAndUnknownOnesAreSkipped) {
  auto c = Load(R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.client_side_weighted_round_robin
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin
      - typed_extension_config:
          name: envoy.load_balancing_policies.maglev
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev
            value: {table_size: 5}
      - typed_extension_config:
          name: not.looked.at
          typed_config: {"@type": type.googleapis.com/google.protobuf.Empty}
)Y");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->lb_policy, upstream::LbPolicy::kMaglev);
  EXPECT_EQ(c->maglev.table_size, 5u);
}

TEST(LbPolicyTest, RefusesWhatCannotApply) {
  EXPECT_THAT(ErrorOf(R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.wrr_locality
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality
)Y"),
              HasSubstr("clusters[0].load_balancing_policy: no policy that weft-proxy implements "
                        "(skipped: envoy.load_balancing_policies.wrr_locality)"));
  EXPECT_THAT(ErrorOf(R"Y(
    load_balancing_policy:
      policies:
      - typed_extension_config:
          name: envoy.load_balancing_policies.round_robin
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin
            slow_start_config: {slow_start_window: 1s}
)Y"),
              HasSubstr("policies[0].typed_extension_config.typed_config.slow_start_config: not "
                        "supported"));
  EXPECT_THAT(ErrorOf(R"Y(
    common_lb_config: {locality_weighted_lb_config: {}}
)Y" + std::string(kPeakEwma).substr(1)),
              HasSubstr("clusters[0].common_lb_config: cannot be combined with "
                        "load_balancing_policy"));
  EXPECT_THAT(ErrorOf("    lb_policy: LOAD_BALANCING_POLICY_CONFIG\n"),
              HasSubstr("lb_policy: LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy"));
  EXPECT_THAT(ErrorOf("    lb_policy: RING_HASH\n    common_lb_config: "
                      "{locality_weighted_lb_config: {}}\n"),
              HasSubstr("locality-weighted balancing is not implemented for RING_HASH"));
  EXPECT_THAT(ErrorOf("    common_lb_config: {zone_aware_lb_config: {}}\n"),
              HasSubstr("common_lb_config.zone_aware_lb_config: not supported"));
}

TEST(LbPolicyTest, CommonLbConfigLocalityWeighting) {
  auto c = Load("    common_lb_config: {locality_weighted_lb_config: {}}\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->locality_weighted_lb);
  EXPECT_EQ(c->lb_policy, upstream::LbPolicy::kRoundRobin);
  ASSERT_EQ(c->localities.size(), 2u);
  EXPECT_EQ(c->localities[0].load_balancing_weight, 80u);
}

}  // namespace
}  // namespace weft::config
