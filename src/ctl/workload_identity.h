// A sidecar's identity, as Istio gives one to pilot-agent in a pod: a token proving the
// workload's namespace and service account (Kubernetes' projected token,
// /var/run/secrets/tokens/istio-token) and the mesh root to trust the CA with
// (/var/run/secrets/istio/root-cert.pem). Here weftd issues the token
// (POST /apis/weft.io/v1/namespaces/NS/serviceaccounts/SA/token) and add-to-mesh keeps both in
// <workload dir>/identity/; the sidecar's identity agent then asks weftd's CA for a certificate
// (--ca-addr, --ca-root-cert, --ca-token-file). The workload's private key never touches the disk:
// the proxy makes it in memory.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "ctl/client.h"
#include "ctl/workload.h"

namespace weft::ctl {

// The name weftd's serving certificate carries (Istio's istiod service name), which a captured
// sidecar dials: weftd's certificate names only the addresses it had when it started, and the
// mesh bridge usually comes later.
inline constexpr const char* kCaHostName = "istiod.istio-system.svc";

struct IdentityFiles {
  std::filesystem::path dir, token, root_cert;
};
// <workload dir>/identity/{istio-token,root-cert.pem} (Istio's file names).
IdentityFiles WorkloadIdentityFiles(const std::string& workload);

// weftd's token API path for a namespace and service account.
std::string TokenApiPath(const std::string& ns, const std::string& service_account);

// The CA address as the sidecar dials it: a captured pod reaches weftd's TLS port on the bridge
// gateway under kCaHostName (see PodHostsFile); a --no-capture sidecar on 127.0.0.1. "" when the
// control plane recorded no TLS port (installed by an older weftctl).
std::string SidecarCaAddress(bool capture, const std::string& xds_tls_address);

// Asks weftd (`client`) for the workload's token, writes it (0400) and a copy of the mesh root
// (0444) into the identity dir (0500), all owned by `sidecar_uid`/`sidecar_gid`, the only user
// who needs them. Files are written to a temporary name and renamed, so a sidecar re-reading the
// token never sees half of one.
bool ProvisionIdentity(Client& client, const WorkloadRecord& w,
                       const std::filesystem::path& mesh_root, uid_t sidecar_uid, gid_t sidecar_gid,
                       std::string* error);

// One line about the sidecar's workload certificate from its admin /certs page (Envoy's shape:
// {"certificates": [{"ca_cert": [...], "cert_chain": [{serial_number, subject_alt_names,
// expiration_time}]}]}): "<URI SAN> serial <serial> until <time>", or "none" when it holds none.
std::string CertificateSummary(const nlohmann::json& certs_page);

// Removes the identity dir (remove-from-mesh: the token must not outlive the workload).
void RemoveIdentity(const std::string& workload);

}  // namespace weft::ctl
