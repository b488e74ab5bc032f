#include "proxy/config/translate_filters.h"

#include "base/status.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "envoy/extensions/filters/http/cors/v3/cors.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/translate_istio_stats.h"
#include "proxy/config/translate_jwt_authn.h"
#include "proxy/config/translate_rbac.h"
#include "proxy/filters/cors.h"
#include "proxy/filters/fault.h"
#include "proxy/filters/local_ratelimit.h"
#include "proxy/filters/rbac.h"
#include "proxy/router/header_mutation.h"

namespace weft::config {
namespace {

namespace cors_pb = envoy::extensions::filters::http::cors::v3;
namespace fault_pb = envoy::extensions::filters::http::fault::v3;
namespace rl_pb = envoy::extensions::filters::http::local_ratelimit::v3;

constexpr std::string_view kCorsType = "envoy.extensions.filters.http.cors.v3.Cors";
constexpr std::string_view kCorsPolicyType = "envoy.extensions.filters.http.cors.v3.CorsPolicy";
constexpr std::string_view kJwtAuthnType =
    "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
constexpr std::string_view kFaultType = "envoy.extensions.filters.http.fault.v3.HTTPFault";
constexpr std::string_view kLocalRateLimitType =
    "envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

absl::StatusOr<std::shared_ptr<const filters::FaultConfig>> TranslateFault(
    const fault_pb::HTTPFault& f, std::string_view path) {
  auto out = std::make_shared<filters::FaultConfig>();
  if (f.has_delay()) {
    const std::string d_path = FieldPath(path, "delay");
    filters::FaultConfig::Delay d;
    if (f.delay().has_fixed_delay()) {
      d.fixed_delay = ToMilliseconds(f.delay().fixed_delay());
    } else if (!f.delay().has_header_delay()) {
      return ConfigError(d_path, "needs fixed_delay or header_delay");
    }
    d.percentage = TranslateFractionalPercent(f.delay().percentage());
    out->delay = d;
  }
  if (f.has_abort()) {
    const std::string a_path = FieldPath(path, "abort");
    filters::FaultConfig::Abort a;
    switch (f.abort().error_type_case()) {
      case fault_pb::FaultAbort::kHttpStatus:
        if (f.abort().http_status() < 200 || f.abort().http_status() >= 600) {
          return ConfigError(FieldPath(a_path, "http_status"), "must be in [200, 600)");
        }
        a.http_status = f.abort().http_status();
        break;
      case fault_pb::FaultAbort::kGrpcStatus:
        a.grpc_status = f.abort().grpc_status();
        break;
      case fault_pb::FaultAbort::kHeaderAbort:
        a.header_abort = true;
        break;
      default:
        return ConfigError(a_path, "needs http_status, grpc_status or header_abort");
    }
    a.percentage = TranslateFractionalPercent(f.abort().percentage());
    out->abort = a;
  }
  out->upstream_cluster = f.upstream_cluster();
  for (int i = 0; i < f.headers_size(); ++i) {
    ASSIGN_OR_RETURN(router::HeaderMatcher m,
                     TranslateHeaderMatcher(f.headers(i), IndexPath(path, "headers", i)));
    out->headers.push_back(std::move(m));
  }
  for (const std::string& node : f.downstream_nodes()) out->downstream_nodes.push_back(node);
  if (f.has_max_active_faults()) out->max_active_faults = f.max_active_faults().value();
  return std::shared_ptr<const filters::FaultConfig>(std::move(out));
}

absl::StatusOr<std::shared_ptr<const filters::LocalRateLimitConfig>> TranslateLocalRateLimit(
    const rl_pb::LocalRateLimit& r, std::string_view path) {
  auto out = std::make_shared<filters::LocalRateLimitConfig>();
  if (r.stat_prefix().empty()) return ConfigError(FieldPath(path, "stat_prefix"), "is required");
  out->stat_prefix = r.stat_prefix();
  const std::string p = r.stat_prefix() + ".http_local_rate_limit.";
  out->stat_names = {p + "enabled", p + "ok", p + "rate_limited", p + "enforced"};
  if (r.has_status()) {
    const int code = r.status().code();
    if (code < 100 || code > 599) {
      return ConfigError(FieldPath(path, "status.code"), "must be an HTTP status");
    }
    out->status = static_cast<uint32_t>(code);
  }
  if (r.has_token_bucket()) {
    const std::string tb_path = FieldPath(path, "token_bucket");
    const auto& tb = r.token_bucket();
    if (tb.max_tokens() == 0) return ConfigError(FieldPath(tb_path, "max_tokens"), "must be > 0");
    if (!tb.has_fill_interval()) {
      return ConfigError(FieldPath(tb_path, "fill_interval"), "is required");
    }
    const auto interval = ToMilliseconds(tb.fill_interval());
    // Envoy's LocalRateLimiterImpl refuses fill intervals under 50 ms.
    if (interval.count() < 50) {
      return ConfigError(FieldPath(tb_path, "fill_interval"), "must be at least 50ms");
    }
    const uint32_t per_fill = tb.has_tokens_per_fill() ? tb.tokens_per_fill().value() : 1;
    if (per_fill == 0) {
      return ConfigError(FieldPath(tb_path, "tokens_per_fill"), "must be > 0");
    }
    out->token_bucket = std::make_shared<filters::TokenBucket>(tb.max_tokens(), per_fill, interval,
                                                               std::chrono::steady_clock::now());
  }
  if (r.has_filter_enabled()) {
    out->filter_enabled = TranslateFractionalPercent(r.filter_enabled().default_value());
  }
  if (r.has_filter_enforced()) {
    out->filter_enforced = TranslateFractionalPercent(r.filter_enforced().default_value());
  }
  ASSIGN_OR_RETURN(out->header_options.response_headers_to_add,
                   TranslateHeadersToAdd(r.response_headers_to_add(),
                                         FieldPath(path, "response_headers_to_add")));
  ASSIGN_OR_RETURN(
      out->header_options.request_headers_to_add,
      TranslateHeadersToAdd(r.request_headers_to_add_when_not_enforced(),
                            FieldPath(path, "request_headers_to_add_when_not_enforced")));
  auto headers = router::HeaderMutator::Compile(out->header_options);
  if (!headers.ok()) return ConfigError(path, headers.status().message());
  out->headers = std::move(*headers);
  out->rate_limited_as_resource_exhausted = r.rate_limited_as_resource_exhausted();
  return std::shared_ptr<const filters::LocalRateLimitConfig>(std::move(out));
}

// cors.v3.CorsPolicy (typed_per_filter_config) and the deprecated route.v3.CorsPolicy have the
// same fields under the same names.
template <typename CorsProto>
absl::StatusOr<std::shared_ptr<const router::CorsPolicy>> TranslateCorsPolicy(
    const CorsProto& c, std::string_view path) {
  auto out = std::make_shared<router::CorsPolicy>();
  for (int i = 0; i < c.allow_origin_string_match_size(); ++i) {
    ASSIGN_OR_RETURN(router::StringMatcher m,
                     TranslateStringMatcher(c.allow_origin_string_match(i),
                                            IndexPath(path, "allow_origin_string_match", i)));
    out->allow_origin_string_match.push_back(std::move(m));
  }
  out->allow_methods = c.allow_methods();
  out->allow_headers = c.allow_headers();
  out->expose_headers = c.expose_headers();
  out->max_age = c.max_age();
  if (c.has_allow_credentials()) out->allow_credentials = c.allow_credentials().value();
  if (c.has_allow_private_network_access()) {
    out->allow_private_network_access = c.allow_private_network_access().value();
  }
  if (c.has_forward_not_matching_preflights()) {
    out->forward_not_matching_preflights = c.forward_not_matching_preflights().value();
  }
  if (c.has_filter_enabled()) {
    out->filter_enabled = TranslateFractionalPercent(c.filter_enabled().default_value());
  }
  if (c.has_shadow_enabled()) {
    out->shadow_enabled = TranslateFractionalPercent(c.shadow_enabled().default_value());
  }
  return std::shared_ptr<const router::CorsPolicy>(std::move(out));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const router::CorsPolicy>> TranslateRouteCorsPolicy(
    const envoy::config::route::v3::CorsPolicy& cors, std::string_view path) {
  return TranslateCorsPolicy(cors, path);
}

router::FractionalPercent TranslateFractionalPercent(const envoy::type::v3::FractionalPercent& p) {
  router::FractionalPercent out;
  out.numerator = p.numerator();
  switch (p.denominator()) {
    case envoy::type::v3::FractionalPercent::TEN_THOUSAND:
      out.denominator = 10000;
      break;
    case envoy::type::v3::FractionalPercent::MILLION:
      out.denominator = 1000000;
      break;
    default:
      out.denominator = 100;
      break;
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const filters::FilterFactory>> TranslateHttpFilter(
    const KnownExtension& extension, std::string name, const google::protobuf::Any* typed_config,
    std::string_view http_stat_prefix, std::string_view path,
    filters::istio::TrafficDirection direction) {
  const std::string c_path = FieldPath(path, "typed_config");
  if (extension.type_name == kIstioStatsType) {
    ASSIGN_OR_RETURN(auto config, TranslateIstioStats(typed_config, direction, c_path));
    return std::shared_ptr<const filters::FilterFactory>(
        filters::istio::CreateIstioStatsFilterFactory(std::move(name), std::move(config)));
  }
  if (extension.type_name == kCorsType) {
    // cors.v3.Cors has no fields: the policies are on the routes. Unpacking still checks the type.
    if (typed_config) RETURN_IF_ERROR(Unpack<cors_pb::Cors>(*typed_config, c_path).status());
    return std::shared_ptr<const filters::FilterFactory>(
        filters::CreateCorsFilterFactory(std::move(name), http_stat_prefix));
  }
  if (extension.type_name == kFaultType) {
    fault_pb::HTTPFault proto;
    if (typed_config) {
      ASSIGN_OR_RETURN(proto, Unpack<fault_pb::HTTPFault>(*typed_config, c_path));
    }
    ASSIGN_OR_RETURN(auto config, TranslateFault(proto, c_path));
    return std::shared_ptr<const filters::FilterFactory>(
        filters::CreateFaultFilterFactory(std::move(name), std::move(config)));
  }
  if (extension.type_name == kLocalRateLimitType) {
    if (!typed_config) {
      return ConfigError(path, "envoy.filters.http.local_ratelimit needs a typed_config");
    }
    ASSIGN_OR_RETURN(auto proto, Unpack<rl_pb::LocalRateLimit>(*typed_config, c_path));
    ASSIGN_OR_RETURN(auto config, TranslateLocalRateLimit(proto, c_path));
    return std::shared_ptr<const filters::FilterFactory>(
        filters::CreateLocalRateLimitFilterFactory(std::move(name), std::move(config)));
  }
  if (extension.type_name == kHttpRbacType) {
    // Without a typed_config (or without rules) the filter enforces nothing, as in Envoy.
    auto config = std::make_shared<const rbac::RbacConfig>();
    if (typed_config) {
      ASSIGN_OR_RETURN(config, TranslateHttpRbac(*typed_config, http_stat_prefix, c_path));
    }
    return std::shared_ptr<const filters::FilterFactory>(
        filters::CreateRbacFilterFactory(std::move(name), std::move(config)));
  }
  if (extension.type_name == kJwtAuthnType) {
    if (!typed_config)
      return ConfigError(path, "envoy.filters.http.jwt_authn needs a typed_config");
    ASSIGN_OR_RETURN(auto config, TranslateJwtAuthn(*typed_config, http_stat_prefix, c_path));
    return std::shared_ptr<const filters::FilterFactory>(
        filters::CreateJwtAuthnFilterFactory(std::move(name), std::move(config)));
  }
  return std::shared_ptr<const filters::FilterFactory>();  // the router: the stream's last step
}

absl::StatusOr<router::PerFilterConfigs> TranslatePerFilterConfigs(
    const google::protobuf::Map<std::string, google::protobuf::Any>& configs,
    std::string_view path) {
  router::PerFilterConfigs out;
  for (const auto& [name, any] : configs) {
    const std::string e_path = Cat(path, "[", name, "]");
    const std::string_view type = TypeNameFromUrl(any.type_url());
    if (type == kFaultType) {
      ASSIGN_OR_RETURN(auto proto, Unpack<fault_pb::HTTPFault>(any, e_path));
      ASSIGN_OR_RETURN(auto config, TranslateFault(proto, e_path));
      out.emplace(name, std::move(config));
    } else if (type == kCorsPolicyType) {
      ASSIGN_OR_RETURN(auto proto, Unpack<cors_pb::CorsPolicy>(any, e_path));
      ASSIGN_OR_RETURN(auto config, TranslateCorsPolicy(proto, e_path));
      out.emplace(name, std::move(config));
    } else if (type == kLocalRateLimitType) {
      ASSIGN_OR_RETURN(auto proto, Unpack<rl_pb::LocalRateLimit>(any, e_path));
      ASSIGN_OR_RETURN(auto config, TranslateLocalRateLimit(proto, e_path));
      out.emplace(name, std::move(config));
    } else if (type == kHttpRbacPerRouteType) {
      ASSIGN_OR_RETURN(auto config, TranslateHttpRbacPerRoute(any, e_path));
      out.emplace(name, std::move(config));
    } else {
      return ConfigError(e_path, "per-route config of type ", type, " is not supported");
    }
  }
  return out;
}

}  // namespace weft::config
