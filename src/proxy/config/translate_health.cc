// envoy.config.core.v3.HealthCheck and envoy.config.cluster.v3.OutlierDetection (and the load
// balancing knobs health feeds: healthy_panic_threshold, overprovisioning_factor) ->
// upstream::ClusterConfig. Defaults are Envoy's, from the protos' comments (see cluster_config.h).
#include "proxy/config/translate_health.h"

#include <algorithm>
#include <initializer_list>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "base/status.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

namespace core = envoy::config::core::v3;

absl::StatusOr<std::chrono::milliseconds> PositiveDuration(const google::protobuf::Duration& d,
                                                           std::string_view path) {
  auto ms = ToMilliseconds(d);
  if (ms.count() <= 0) return ConfigError(path, "must be greater than 0");
  return ms;
}

absl::StatusOr<std::string> TranslatePayload(const core::HealthCheck::Payload& p,
                                             std::string_view path) {
  if (p.has_text()) {
    // Hex text, as Envoy reads it ("000000FF" is four bytes).
    std::string bytes;
    const std::string& text = p.text();
    if (text.empty() || text.size() % 2 != 0 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
      return ConfigError(FieldPath(path, "text"), "must be an even number of hex digits");
    }
    bytes = absl::HexStringToBytes(absl::string_view(text.data(), text.size()));
    return bytes;
  }
  if (!p.binary().empty()) return p.binary();
  return ConfigError(path, "needs text or binary");
}

// http_health_check.request_headers_to_add and grpc_health_check.initial_metadata: literal
// headers sent with every check.
absl::Status TranslateHeadersToAdd(
    const google::protobuf::RepeatedPtrField<core::HeaderValueOption>& headers,
    std::string_view parent_path, std::string_view field,
    std::vector<std::pair<std::string, std::string>>& out) {
  for (int i = 0; i < headers.size(); ++i) {
    const auto& hv = headers.Get(i).header();
    const std::string h_path = IndexPath(parent_path, field, i);
    if (hv.key().empty()) return ConfigError(FieldPath(h_path, "header.key"), "is required");
    if (hv.value().find('%') != std::string::npos) {
      return ConfigError(FieldPath(h_path, "header.value"),
                         "format commands are not supported in health check headers");
    }
    out.emplace_back(absl::AsciiStrToLower(hv.key()), hv.value());
  }
  return absl::OkStatus();
}

absl::Status TranslateHealthCheck(const core::HealthCheck& h, std::string_view path,
                                  upstream::ClusterConfig& out) {
  upstream::HealthCheckConfig c;
  if (!h.has_timeout()) return ConfigError(FieldPath(path, "timeout"), "is required");
  ASSIGN_OR_RETURN(c.timeout, PositiveDuration(h.timeout(), FieldPath(path, "timeout")));
  if (!h.has_interval()) return ConfigError(FieldPath(path, "interval"), "is required");
  ASSIGN_OR_RETURN(c.interval, PositiveDuration(h.interval(), FieldPath(path, "interval")));
  if (!h.has_unhealthy_threshold()) {
    return ConfigError(FieldPath(path, "unhealthy_threshold"), "is required");
  }
  if (!h.has_healthy_threshold()) {
    return ConfigError(FieldPath(path, "healthy_threshold"), "is required");
  }
  c.unhealthy_threshold = std::max<uint32_t>(1, h.unhealthy_threshold().value());
  c.healthy_threshold = std::max<uint32_t>(1, h.healthy_threshold().value());
  if (h.has_initial_jitter()) c.initial_jitter = ToMilliseconds(h.initial_jitter());
  if (h.has_interval_jitter()) c.interval_jitter = ToMilliseconds(h.interval_jitter());
  if (c.initial_jitter.count() < 0 || c.interval_jitter.count() < 0) {
    return ConfigError(path, "jitter must not be negative");
  }
  c.interval_jitter_percent = h.interval_jitter_percent();
  if (h.has_reuse_connection()) c.reuse_connection = h.reuse_connection().value();
  if (h.has_unhealthy_interval()) {
    ASSIGN_OR_RETURN(c.unhealthy_interval, PositiveDuration(h.unhealthy_interval(),
                                                            FieldPath(path, "unhealthy_interval")));
  }
  if (h.has_unhealthy_edge_interval()) {
    ASSIGN_OR_RETURN(
        c.unhealthy_edge_interval,
        PositiveDuration(h.unhealthy_edge_interval(), FieldPath(path, "unhealthy_edge_interval")));
  }
  if (h.has_healthy_edge_interval()) {
    ASSIGN_OR_RETURN(
        c.healthy_edge_interval,
        PositiveDuration(h.healthy_edge_interval(), FieldPath(path, "healthy_edge_interval")));
  }

  if (h.has_http_health_check()) {
    const auto& http = h.http_health_check();
    const std::string http_path = FieldPath(path, "http_health_check");
    c.kind = upstream::HealthCheckConfig::Kind::kHttp;
    c.host = http.host();
    c.path = http.path();
    if (c.path.empty() || c.path[0] != '/') {
      return ConfigError(FieldPath(http_path, "path"), "is required and must start with '/'");
    }
    for (int i = 0; i < http.expected_statuses_size(); ++i) {
      const auto& r = http.expected_statuses(i);
      if (r.start() < 100 || r.end() > 600 || r.start() >= r.end()) {
        return ConfigError(IndexPath(http_path, "expected_statuses", i),
                           "must be a non-empty range within [100, 600)");
      }
      c.expected_statuses.emplace_back(r.start(), r.end());
    }
    RETURN_IF_ERROR(TranslateHeadersToAdd(http.request_headers_to_add(), http_path,
                                          "request_headers_to_add", c.request_headers_to_add));
  } else if (h.has_tcp_health_check()) {
    const auto& tcp = h.tcp_health_check();
    const std::string tcp_path = FieldPath(path, "tcp_health_check");
    c.kind = upstream::HealthCheckConfig::Kind::kTcp;
    if (tcp.has_send()) {
      ASSIGN_OR_RETURN(c.send, TranslatePayload(tcp.send(), FieldPath(tcp_path, "send")));
    }
    for (int i = 0; i < tcp.receive_size(); ++i) {
      ASSIGN_OR_RETURN(std::string bytes,
                       TranslatePayload(tcp.receive(i), IndexPath(tcp_path, "receive", i)));
      c.receive.push_back(std::move(bytes));
    }
  } else if (h.has_grpc_health_check()) {
    const auto& grpc = h.grpc_health_check();
    const std::string grpc_path = FieldPath(path, "grpc_health_check");
    c.kind = upstream::HealthCheckConfig::Kind::kGrpc;
    if (out.protocol == upstream::UpstreamProtocol::kHttp1) {
      // Envoy refuses it too ("cluster must support HTTP/2"): gRPC runs over HTTP/2 only.
      return ConfigError(grpc_path,
                         "needs a cluster that speaks HTTP/2 upstream "
                         "(http2_protocol_options or typed_extension_protocol_options)");
    }
    c.service_name = grpc.service_name();
    c.authority = grpc.authority();
    RETURN_IF_ERROR(TranslateHeadersToAdd(grpc.initial_metadata(), grpc_path, "initial_metadata",
                                          c.request_headers_to_add));
  } else {
    return ConfigError(path, "needs http_health_check, grpc_health_check or tcp_health_check");
  }
  out.health_check = std::move(c);
  return absl::OkStatus();
}

absl::Status TranslateOutlierDetection(const envoy::config::cluster::v3::OutlierDetection& o,
                                       std::string_view path, upstream::ClusterConfig& out) {
  upstream::OutlierDetectionConfig c;
  // Counts: a set wrapper replaces the default; the consecutive ones must be at least 1.
  for (auto [name, has, value, field, minimum] :
       std::initializer_list<std::tuple<const char*, bool, uint32_t, uint32_t*, uint32_t>>{
           {"consecutive_5xx", o.has_consecutive_5xx(), o.consecutive_5xx().value(),
            &c.consecutive_5xx, 1},
           {"consecutive_gateway_failure", o.has_consecutive_gateway_failure(),
            o.consecutive_gateway_failure().value(), &c.consecutive_gateway_failure, 1},
           {"consecutive_local_origin_failure", o.has_consecutive_local_origin_failure(),
            o.consecutive_local_origin_failure().value(), &c.consecutive_local_origin_failure, 1},
           {"success_rate_minimum_hosts", o.has_success_rate_minimum_hosts(),
            o.success_rate_minimum_hosts().value(), &c.success_rate_minimum_hosts, 0},
           {"success_rate_request_volume", o.has_success_rate_request_volume(),
            o.success_rate_request_volume().value(), &c.success_rate_request_volume, 0},
           {"success_rate_stdev_factor", o.has_success_rate_stdev_factor(),
            o.success_rate_stdev_factor().value(), &c.success_rate_stdev_factor, 0},
           {"failure_percentage_minimum_hosts", o.has_failure_percentage_minimum_hosts(),
            o.failure_percentage_minimum_hosts().value(), &c.failure_percentage_minimum_hosts, 0},
           {"failure_percentage_request_volume", o.has_failure_percentage_request_volume(),
            o.failure_percentage_request_volume().value(), &c.failure_percentage_request_volume,
            0}}) {
    if (!has) continue;
    if (value < minimum) return ConfigError(FieldPath(path, name), "must be at least ", minimum);
    *field = value;
  }
  // Percentages: at most 100 (outlier_detection.proto's validation rules).
  for (auto [name, has, value, field] :
       std::initializer_list<std::tuple<const char*, bool, uint32_t, uint32_t*>>{
           {"max_ejection_percent", o.has_max_ejection_percent(), o.max_ejection_percent().value(),
            &c.max_ejection_percent},
           {"enforcing_consecutive_5xx", o.has_enforcing_consecutive_5xx(),
            o.enforcing_consecutive_5xx().value(), &c.enforcing_consecutive_5xx},
           {"enforcing_success_rate", o.has_enforcing_success_rate(),
            o.enforcing_success_rate().value(), &c.enforcing_success_rate},
           {"enforcing_consecutive_gateway_failure", o.has_enforcing_consecutive_gateway_failure(),
            o.enforcing_consecutive_gateway_failure().value(),
            &c.enforcing_consecutive_gateway_failure},
           {"enforcing_consecutive_local_origin_failure",
            o.has_enforcing_consecutive_local_origin_failure(),
            o.enforcing_consecutive_local_origin_failure().value(),
            &c.enforcing_consecutive_local_origin_failure},
           {"enforcing_local_origin_success_rate", o.has_enforcing_local_origin_success_rate(),
            o.enforcing_local_origin_success_rate().value(),
            &c.enforcing_local_origin_success_rate},
           {"failure_percentage_threshold", o.has_failure_percentage_threshold(),
            o.failure_percentage_threshold().value(), &c.failure_percentage_threshold},
           {"enforcing_failure_percentage", o.has_enforcing_failure_percentage(),
            o.enforcing_failure_percentage().value(), &c.enforcing_failure_percentage},
           {"enforcing_failure_percentage_local_origin",
            o.has_enforcing_failure_percentage_local_origin(),
            o.enforcing_failure_percentage_local_origin().value(),
            &c.enforcing_failure_percentage_local_origin}}) {
    if (!has) continue;
    if (value > 100) return ConfigError(FieldPath(path, name), "must be at most 100");
    *field = value;
  }
  if (o.has_interval()) {
    ASSIGN_OR_RETURN(c.interval, PositiveDuration(o.interval(), FieldPath(path, "interval")));
  }
  if (o.has_base_ejection_time()) {
    ASSIGN_OR_RETURN(c.base_ejection_time, PositiveDuration(o.base_ejection_time(),
                                                            FieldPath(path, "base_ejection_time")));
  }
  if (o.has_max_ejection_time()) {
    ASSIGN_OR_RETURN(c.max_ejection_time,
                     PositiveDuration(o.max_ejection_time(), FieldPath(path, "max_ejection_time")));
  }
  c.split_external_local_origin_errors = o.split_external_local_origin_errors();
  if (o.has_successful_active_health_check_uneject_host()) {
    c.successful_active_health_check_uneject_host =
        o.successful_active_health_check_uneject_host().value();
  }
  if (o.has_always_eject_one_host()) c.always_eject_one_host = o.always_eject_one_host().value();
  out.outlier_detection = c;
  return absl::OkStatus();
}

}  // namespace

absl::Status TranslateClusterHealth(const envoy::config::cluster::v3::Cluster& p,
                                    std::string_view path, upstream::ClusterConfig& out) {
  if (p.health_checks_size() > 1) {
    return ConfigError(IndexPath(path, "health_checks", 1),
                       "only one health check per cluster is supported");
  }
  if (p.health_checks_size() == 1) {
    if (out.type == upstream::DiscoveryType::kOriginalDst) {
      return ConfigError(FieldPath(path, "health_checks"),
                         "ORIGINAL_DST clusters cannot be health checked");
    }
    RETURN_IF_ERROR(
        TranslateHealthCheck(p.health_checks(0), IndexPath(path, "health_checks", 0), out));
  }
  if (p.has_outlier_detection()) {
    if (out.type == upstream::DiscoveryType::kOriginalDst) {
      return ConfigError(FieldPath(path, "outlier_detection"),
                         "not supported for ORIGINAL_DST clusters");
    }
    RETURN_IF_ERROR(TranslateOutlierDetection(p.outlier_detection(),
                                              FieldPath(path, "outlier_detection"), out));
  }
  if (p.has_common_lb_config() && p.common_lb_config().has_healthy_panic_threshold()) {
    const double v = p.common_lb_config().healthy_panic_threshold().value();
    if (v < 0 || v > 100) {
      return ConfigError(FieldPath(path, "common_lb_config.healthy_panic_threshold.value"),
                         "must be within [0, 100]");
    }
    out.healthy_panic_threshold = v;
  }
  if (p.has_load_assignment() && p.load_assignment().has_policy() &&
      p.load_assignment().policy().has_overprovisioning_factor()) {
    const uint32_t f = p.load_assignment().policy().overprovisioning_factor().value();
    if (f == 0) {
      return ConfigError(FieldPath(path, "load_assignment.policy.overprovisioning_factor"),
                         "must be greater than 0");
    }
    out.overprovisioning_factor = f;
  }
  return absl::OkStatus();
}

}  // namespace weft::config
