#include "proxy/filters/rbac.h"

namespace weft::filters {
namespace {

// Envoy's dynamic metadata keys (source/extensions/filters/http/rbac/rbac_filter.h and
// source/extensions/filters/common/rbac/utility.h).
constexpr std::string_view kRbacNamespace = "envoy.filters.http.rbac";
constexpr std::string_view kShadowPolicyKey = "shadow_effective_policy_id";
constexpr std::string_view kShadowResultKey = "shadow_engine_result";
constexpr std::string_view kCommonNamespace = "envoy.common";
constexpr std::string_view kAccessLogHintKey = "access_log_hint";

void SetMetadata(access_log::StreamInfo& info, std::string_view ns, std::string_view key,
                 std::string_view value) {
  auto& values = info.dynamic_metadata[std::string(ns)][std::string(key)];
  values.assign(1, std::string(value));
}

class RbacFilter : public StreamFilter {
 public:
  RbacFilter(FilterCallbacks& callbacks, const rbac::RbacConfig& config, const std::string& name)
      : callbacks_(callbacks), config_(config), name_(name) {}

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    // A route's RBACPerRoute replaces the rules; the stats keep the filter's names.
    const rbac::RbacConfig* config = &config_;
    if (const auto* route = callbacks_.PerRouteConfig(name_)) {
      if (const auto* c = dynamic_cast<const rbac::RbacConfig*>(route)) config = c;
    }
    access_log::StreamInfo& info = callbacks_.info();
    const rbac::RbacRequest request = RbacRequestFor(info, &headers);
    stats::Store& stats = callbacks_.stats();

    if (config->shadow_rules) {
      const auto result = config->shadow_rules->Evaluate(request);
      stats.counter(result.allowed ? config_.shadow_allowed_stat : config_.shadow_denied_stat)
          .Inc();
      if (result.matched_policy != nullptr) {
        SetMetadata(info, kRbacNamespace, kShadowPolicyKey, *result.matched_policy);
      }
      SetMetadata(info, kRbacNamespace, kShadowResultKey, result.allowed ? "allowed" : "denied");
    }
    if (!config->rules) return FilterStatus::kContinue;

    const auto result = config->rules->Evaluate(request);
    if (config->rules->action() == rbac::Action::kLog) {
      const bool logged = result.matched_policy != nullptr;
      stats.counter(logged ? config_.logged_stat : config_.not_logged_stat).Inc();
      if (logged) SetMetadata(info, kCommonNamespace, kAccessLogHintKey, "true");
      return FilterStatus::kContinue;
    }
    if (result.allowed) {
      stats.counter(config_.allowed_stat).Inc();
      return FilterStatus::kContinue;
    }
    stats.counter(config_.denied_stat).Inc();
    const std::string details = "rbac_access_denied_matched_policy[" +
                                (result.matched_policy ? *result.matched_policy : "none") + "]";
    callbacks_.SendLocalReply(403, "RBAC: access denied", details, 0);
    return FilterStatus::kLocalReplySent;
  }

 private:
  FilterCallbacks& callbacks_;
  const rbac::RbacConfig& config_;
  const std::string& name_;
};

}  // namespace

rbac::RbacRequest RbacRequestFor(const access_log::StreamInfo& info,
                                 const http::HeaderMap* headers) {
  rbac::RbacRequest r;
  r.headers = headers;
  r.direct_remote = rbac::IpPort::FromString(info.downstream_direct_remote_address);
  r.remote = rbac::IpPort::FromString(info.downstream_remote_address);
  r.local = rbac::IpPort::FromString(info.downstream_local_address);
  r.requested_server_name = info.requested_server_name;
  r.peer_principal = info.downstream_peer_uri_san;
  r.dynamic_metadata = &info.dynamic_metadata;
  return r;
}

std::unique_ptr<FilterFactory> CreateRbacFilterFactory(
    std::string name, std::shared_ptr<const rbac::RbacConfig> config) {
  return std::make_unique<TypedFilterFactory<RbacFilter, rbac::RbacConfig>>(std::move(name),
                                                                            std::move(config));
}

}  // namespace weft::filters
