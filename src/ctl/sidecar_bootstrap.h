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

// The whole bootstrap (Envoy v3 Bootstrap as JSON). A sidecar with an identity (w.ca_address
// set, `mesh_root_pem` its copy of the mesh root) reaches ADS on weftd's TLS port, verifying
// weftd as istiod.istio-system.svc, as Istio's sidecars reach istiod on 15012; its token
// (--ca-token-file) authenticates the stream, which is what gets it its namespace's Secrets.
// Without one, the plaintext xDS port.
nlohmann::json SidecarBootstrap(const WorkloadRecord& w, const std::string& mesh_root_pem = "");

}  // namespace weft::ctl
