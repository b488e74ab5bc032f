// The mesh-wide settings of Istio's MeshConfig that weftd honours (istio.io/api
// mesh/v1alpha1/config.proto), given to weftd by `--mesh-config FILE` (mesh/mesh_config_file.h
// reads it). The translator takes them as an input like the resources and the registry.
#pragma once

#include <string>

namespace weft::control::translate {

struct MeshConfig {
  // MeshConfig.outboundTrafficPolicy.mode: what a sidecar does with a destination that is no
  // mesh service. ALLOW_ANY (Istio's default) passes it through; REGISTRY_ONLY blocks it unless
  // a ServiceEntry names it. A Sidecar resource's outboundTrafficPolicy overrides it.
  enum class OutboundTrafficPolicy { kAllowAny, kRegistryOnly };
  OutboundTrafficPolicy outbound_traffic_policy = OutboundTrafficPolicy::kAllowAny;
  // Where mesh-wide resources (a Sidecar without selector, PeerAuthentication) live.
  std::string root_namespace = "istio-system";
  // The trust domain of SPIFFE identities (spiffe://<trust domain>/ns/<ns>/sa/<sa>).
  std::string trust_domain = "cluster.local";
  // defaultConfig.holdApplicationUntilProxyStarts: start applications only once their sidecar
  // is ready (weftctl add-to-mesh always does on plain hosts; kept so the file round-trips).
  bool hold_application_until_proxy_starts = true;
  // accessLogFile: where sidecars write Istio's default access log ("/dev/stdout", a path);
  // empty = no access log (Istio's default).
  std::string access_log_file;

  bool operator==(const MeshConfig&) const = default;
};

}  // namespace weft::control::translate
