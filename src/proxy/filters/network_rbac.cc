#include "proxy/filters/network_rbac.h"

namespace weft::filters {

bool NetworkRbacAllows(const std::vector<std::shared_ptr<const rbac::RbacConfig>>& rbacs,
                       const network::Address& local, const network::Address& remote,
                       std::string_view requested_server_name, std::string_view peer_principal,
                       stats::Store& stats) {
  if (rbacs.empty()) return true;
  rbac::RbacRequest request;
  request.local = rbac::IpPort::FromAddress(local);
  request.direct_remote = rbac::IpPort::FromAddress(remote);
  request.remote = request.direct_remote;  // no XFF on a connection
  request.requested_server_name = requested_server_name;
  request.peer_principal = peer_principal;
  for (const auto& config : rbacs) {
    if (config->shadow_rules) {
      const bool allowed = config->shadow_rules->Evaluate(request).allowed;
      stats.counter(allowed ? config->shadow_allowed_stat : config->shadow_denied_stat).Inc();
    }
    if (!config->rules) continue;
    const auto result = config->rules->Evaluate(request);
    if (config->rules->action() == rbac::Action::kLog) {
      stats.counter(result.matched_policy ? config->logged_stat : config->not_logged_stat).Inc();
      continue;
    }
    if (!result.allowed) {
      stats.counter(config->denied_stat).Inc();
      return false;
    }
    stats.counter(config->allowed_stat).Inc();
  }
  return true;
}

}  // namespace weft::filters
