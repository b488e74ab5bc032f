#include "proxy/config/translate_lb_policy.h"

#include <google/protobuf/util/json_util.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/status.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb.h"
#include "proxy/config/known_extensions.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate_common.h"
#include "xds/type/v3/typed_struct.pb.h"

namespace weft::config::internal {
namespace {

namespace cluster = envoy::config::cluster::v3;
namespace lbp = envoy::extensions::load_balancing_policies;
namespace pb = google::protobuf;

constexpr std::string_view kTypedStruct = "xds.type.v3.TypedStruct";

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// A google.protobuf.Duration in its JSON form ("10s", "0.030s"), as a TypedStruct carries it.
absl::StatusOr<std::chrono::nanoseconds> ParseJsonDuration(const pb::Value& value,
                                                           std::string_view path) {
  pb::Duration duration;
  std::string json;
  if (!value.has_string_value() || !pb::util::MessageToJsonString(value, &json).ok() ||
      !pb::util::JsonStringToMessage(json, &duration).ok()) {
    return ConfigError(path, "must be a duration such as \"10s\" or \"0.030s\"");
  }
  return std::chrono::seconds(duration.seconds()) + std::chrono::nanoseconds(duration.nanos());
}

// PeakEwma's fields as Envoy's contrib proto names them; Weft implements decay_time and
// default_rtt. Its other knobs (aggregation_interval, max_samples_per_host, penalty_value) tune
// Envoy's cross-thread sample aggregation, which Weft's per-worker balancer does not have, so
// they are refused rather than ignored.
absl::Status TranslatePeakEwma(const pb::Struct& value, std::string_view path,
                               upstream::ClusterConfig& out) {
  out.lb_policy = upstream::LbPolicy::kPeakEwma;
  out.peak_ewma = upstream::PeakEwmaConfig{};
  for (const auto& [key, field] : value.fields()) {
    const std::string f_path = FieldPath(path, key);
    if (key == "decay_time") {
      ASSIGN_OR_RETURN(out.peak_ewma.decay_time, ParseJsonDuration(field, f_path));
      if (out.peak_ewma.decay_time.count() <= 0) return ConfigError(f_path, "must be positive");
    } else if (key == "default_rtt") {
      ASSIGN_OR_RETURN(out.peak_ewma.default_rtt, ParseJsonDuration(field, f_path));
      if (out.peak_ewma.default_rtt.count() < 0) return ConfigError(f_path, "must not be negative");
    } else {
      return ConfigError(f_path, "not supported");
    }
  }
  return absl::OkStatus();
}

// A Envoy policy's locality_lb_config: only locality_weighted_lb_config passes the field check.
template <typename Policy>
void ApplyLocalityLbConfig(const Policy& policy, upstream::ClusterConfig& out) {
  out.locality_weighted_lb = policy.has_locality_lb_config() &&
                             policy.locality_lb_config().has_locality_weighted_lb_config();
}

// Returns false (and leaves `out` alone) when `type` is not a policy Weft implements.
absl::StatusOr<bool> TranslateTypedPolicy(std::string_view type, const pb::Message& config,
                                          std::string_view path, upstream::ClusterConfig& out) {
  if (type == lbp::round_robin::v3::RoundRobin::descriptor()->full_name()) {
    const auto& p = static_cast<const lbp::round_robin::v3::RoundRobin&>(config);
    out.lb_policy = upstream::LbPolicy::kRoundRobin;
    ApplyLocalityLbConfig(p, out);
  } else if (type == lbp::least_request::v3::LeastRequest::descriptor()->full_name()) {
    const auto& p = static_cast<const lbp::least_request::v3::LeastRequest&>(config);
    out.lb_policy = upstream::LbPolicy::kLeastRequest;
    if (p.has_choice_count()) {
      out.least_request.choice_count = p.choice_count().value();
      RETURN_IF_ERROR(CheckChoiceCount(out.least_request.choice_count, path));
    }
    ApplyLocalityLbConfig(p, out);
  } else if (type == lbp::random::v3::Random::descriptor()->full_name()) {
    out.lb_policy = upstream::LbPolicy::kRandom;
    ApplyLocalityLbConfig(static_cast<const lbp::random::v3::Random&>(config), out);
  } else if (type == lbp::ring_hash::v3::RingHash::descriptor()->full_name()) {
    const auto& p = static_cast<const lbp::ring_hash::v3::RingHash&>(config);
    out.lb_policy = upstream::LbPolicy::kRingHash;
    if (p.has_minimum_ring_size()) out.ring_hash.minimum_ring_size = p.minimum_ring_size().value();
    if (p.has_maximum_ring_size()) out.ring_hash.maximum_ring_size = p.maximum_ring_size().value();
    RETURN_IF_ERROR(CheckRingHash(out.ring_hash, path));
  } else if (type == lbp::maglev::v3::Maglev::descriptor()->full_name()) {
    const auto& p = static_cast<const lbp::maglev::v3::Maglev&>(config);
    out.lb_policy = upstream::LbPolicy::kMaglev;
    if (p.has_table_size()) {
      out.maglev.table_size = p.table_size().value();
      RETURN_IF_ERROR(CheckMaglevTableSize(out.maglev.table_size, FieldPath(path, "table_size")));
    }
  } else {
    return false;
  }
  return true;
}

// One entry of load_balancing_policy.policies. Returns false when Weft does not implement it,
// so the caller moves on to the next entry, as Envoy does.
absl::StatusOr<bool> TranslatePolicy(const cluster::LoadBalancingPolicy::Policy& policy,
                                     std::string_view path, upstream::ClusterConfig& out) {
  const std::string e_path = FieldPath(path, "typed_extension_config");
  const auto& extension = policy.typed_extension_config();
  if (!extension.has_typed_config()) {
    return ConfigError(FieldPath(e_path, "typed_config"), "is required");
  }
  const std::string c_path = FieldPath(e_path, "typed_config");
  const pb::Any& any = extension.typed_config();
  const std::string_view type = TypeNameFromUrl(any.type_url());

  std::unique_ptr<pb::Message> config;
  if (type == kTypedStruct) {
    ASSIGN_OR_RETURN(auto typed_struct, Unpack<xds::type::v3::TypedStruct>(any, c_path));
    const std::string_view inner = TypeNameFromUrl(typed_struct.type_url());
    const std::string v_path = FieldPath(c_path, "value");
    for (std::string_view peak_ewma : kPeakEwmaTypes) {
      if (inner == peak_ewma) {
        RETURN_IF_ERROR(TranslatePeakEwma(typed_struct.value(), v_path, out));
        return true;
      }
    }
    // An Envoy policy spelled as a TypedStruct: convert through JSON, as Envoy does.
    const pb::Descriptor* desc =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(inner));
    const KnownExtension* known = FindExtensionByType(inner);
    if (desc == nullptr || known == nullptr || known->kind != ExtensionKind::kLoadBalancingPolicy) {
      return false;
    }
    config.reset(pb::MessageFactory::generated_factory()->GetPrototype(desc)->New());
    std::string json;
    if (!pb::util::MessageToJsonString(typed_struct.value(), &json).ok() ||
        !pb::util::JsonStringToMessage(json, config.get()).ok()) {
      return ConfigError(v_path, "is not a valid ", inner);
    }
    RETURN_IF_ERROR(CheckSupportedFields(*config, v_path));
    return TranslateTypedPolicy(inner, *config, v_path, out);
  }
  const KnownExtension* known = FindExtensionByType(type);
  if (known == nullptr || known->kind != ExtensionKind::kLoadBalancingPolicy) return false;
  RETURN_IF_ERROR(CheckSupportedFields(any, c_path));  // unpacks and walks the policy's fields
  const pb::Descriptor* desc =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(type));
  config.reset(pb::MessageFactory::generated_factory()->GetPrototype(desc)->New());
  if (!any.UnpackTo(config.get())) return ConfigError(c_path, "cannot decode ", type);
  return TranslateTypedPolicy(type, *config, c_path, out);
}

}  // namespace

absl::Status CheckRingHash(const upstream::RingHashConfig& ring, std::string_view path) {
  if (ring.maximum_ring_size > 8388608) {
    return ConfigError(FieldPath(path, "maximum_ring_size"), "must be at most 8388608");
  }
  if (ring.minimum_ring_size > ring.maximum_ring_size) {
    return ConfigError(path, "minimum_ring_size must not exceed maximum_ring_size");
  }
  return absl::OkStatus();
}

absl::Status CheckMaglevTableSize(uint64_t table_size, std::string_view path) {
  if (!IsPrime(table_size) || table_size > 5000011) {
    return ConfigError(path, table_size, " must be a prime number no larger than 5000011");
  }
  return absl::OkStatus();
}

absl::Status CheckChoiceCount(uint32_t choice_count, std::string_view path) {
  if (choice_count < 2) return ConfigError(FieldPath(path, "choice_count"), "must be at least 2");
  return absl::OkStatus();
}

absl::Status TranslateLbPolicy(const cluster::Cluster& p, std::string_view path,
                               upstream::ClusterConfig& out) {
  if (p.has_common_lb_config() && p.common_lb_config().has_locality_weighted_lb_config()) {
    out.locality_weighted_lb = true;
  }
  if (!p.has_load_balancing_policy()) {
    if (p.lb_policy() == cluster::Cluster::LOAD_BALANCING_POLICY_CONFIG) {
      return ConfigError(FieldPath(path, "lb_policy"),
                         "LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy");
    }
  } else {
    const std::string lbp_path = FieldPath(path, "load_balancing_policy");
    // With the typed policies, tuning lives in each policy's own config; a leftover Cluster-level
    // knob would silently not apply, so it is refused.
    for (const auto& [set, field] :
         {std::pair{p.has_ring_hash_lb_config(), "ring_hash_lb_config"},
          std::pair{p.has_maglev_lb_config(), "maglev_lb_config"},
          std::pair{p.has_least_request_lb_config(), "least_request_lb_config"},
          std::pair{p.has_common_lb_config(), "common_lb_config"}}) {
      if (set) {
        return ConfigError(FieldPath(path, field),
                           "cannot be combined with load_balancing_policy: configure the policy's "
                           "own fields instead");
      }
    }
    out.locality_weighted_lb = false;
    std::vector<std::string> skipped;
    bool chosen = false;
    const auto& policies = p.load_balancing_policy().policies();
    for (int i = 0; i < policies.size() && !chosen; ++i) {
      ASSIGN_OR_RETURN(chosen,
                       TranslatePolicy(policies[i], IndexPath(lbp_path, "policies", i), out));
      if (!chosen) {
        const auto& e = policies[i].typed_extension_config();
        skipped.push_back(e.name().empty() ? std::string(e.typed_config().type_url()) : e.name());
      }
    }
    if (!chosen) {
      return ConfigError(
          lbp_path, "no policy that weft-proxy implements (skipped: ", absl::StrJoin(skipped, ", "),
          "); it implements Envoy's round_robin, least_request, random, ring_hash, "
          "maglev, and peak_ewma in an xds.type.v3.TypedStruct");
    }
  }
  if (out.locality_weighted_lb && (out.lb_policy == upstream::LbPolicy::kRingHash ||
                                   out.lb_policy == upstream::LbPolicy::kMaglev)) {
    return ConfigError(path,
                       "locality-weighted balancing is not implemented for RING_HASH or MAGLEV");
  }
  return absl::OkStatus();
}

}  // namespace weft::config::internal
