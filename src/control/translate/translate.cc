#include "control/translate/translate.h"

#include <algorithm>

#include "control/translate/internal.h"

namespace weft::control::translate {

XdsResources Translate(const Snapshot& snapshot, const ProxyIdentity& proxy) {
  XdsResources out;
  const internal::View view(snapshot, proxy);
  if (proxy.proxyless_grpc) {
    internal::BuildProxylessResources(view, out);
  } else {
    internal::BuildOutboundClusters(view, out);
    internal::BuildInboundClusters(view, out);
    internal::BuildJwksClusters(view, out);
    internal::BuildRouteConfigs(view, out);
    internal::BuildListeners(view, out);
    if (proxy.capture) {
      internal::BuildCaptureListeners(view, out);
    } else {
      internal::BuildUpstreamListeners(view, out);
    }
    internal::AddMeshAccessLogs(view, out);
    internal::BuildSecrets(view, out);
  }
  auto by_name = [](const auto& a, const auto& b) { return a.name() < b.name(); };
  std::stable_sort(out.listeners.begin(), out.listeners.end(), by_name);
  std::stable_sort(out.route_configs.begin(), out.route_configs.end(), by_name);
  std::stable_sort(out.clusters.begin(), out.clusters.end(), by_name);
  std::stable_sort(out.secrets.begin(), out.secrets.end(), by_name);
  std::stable_sort(out.endpoints.begin(), out.endpoints.end(), [](const auto& a, const auto& b) {
    return a.cluster_name() < b.cluster_name();
  });
  out.warnings = view.TakeWarnings();
  return out;
}

}  // namespace weft::control::translate
