// The bootstrap of a workload's sidecar: Istio's node identity and pilot-agent's metadata keys
// (docs/user-guide/registration.md), admin on 127.0.0.1, and ADS to weftd over the "xds" cluster.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ctl/workload.h"

namespace weft::ctl {

// Istio's sidecar node id: sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local.
std::string SidecarNodeId(const WorkloadRecord& w);

// The labels the sidecar sends: app=<service>, the --label ones, and istio.io/rev for a
// non-default revision (Istio's revision label).
std::map<std::string, std::string> WorkloadLabels(const WorkloadRecord& w);

// The whole bootstrap (Envoy v3 Bootstrap as JSON).
nlohmann::json SidecarBootstrap(const WorkloadRecord& w);

}  // namespace weft::ctl
