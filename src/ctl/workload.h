// One workload added to the mesh: what the user asked for (parsed from add-to-mesh's flags) and
// what weftctl made for it, kept in <home>/workloads/<name>/workload.json so remove-from-mesh,
// exec, restart-proxy and the supervisor all read the same facts.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace weft::ctl {

// Istio's sidecar ports (pilot/cmd/pilot-agent, tools/istio-iptables constants): admin 15000,
// outbound capture 15001, inbound capture 15006, health 15021, DNS 15053, prometheus 15090. A
// workload may not use them: the capture rules exclude them and the sidecar binds them.
inline constexpr int kReservedSidecarPorts[] = {15000, 15001, 15006, 15021, 15053, 15090};
inline constexpr int kProxyUid = 1337;  // Istio's proxy uid/gid (istio-proxy)
inline constexpr int kAdminPort = 15000;

struct WorkloadPort {
  int number = 0;                 // the service's port (the ServiceEntry's)
  std::string protocol = "HTTP";  // HTTP, HTTP2, GRPC or TCP (the ServiceEntry port's protocol)
  std::string name;               // the ServiceEntry port name == the POD_PORTS name
  int target = 0;                 // where the application listens, when not `number`
  int AppPort() const { return target != 0 ? target : number; }
};

// --upstream SVC:PORT=127.0.0.1:LOCALPORT (no-capture mode's explicit outbound ports).
struct Upstream {
  std::string service;
  int port = 0;
  std::string local_address;  // "127.0.0.1:19080"
};

struct WorkloadRecord {
  std::string name, ns = "default", service, service_account = "default", revision;
  std::vector<WorkloadPort> ports;
  std::map<std::string, std::string> labels;  // as the sidecar sends them (app, version, ...)
  bool capture = true;
  std::vector<Upstream> upstreams;
  std::vector<std::string> command;
  uid_t app_uid = 0;
  gid_t app_gid = 0;

  // What was made for it.
  std::string netns, veth, ip, outbound_ip;  // outbound_ip: no-capture's WEFT_OUTBOUND_ADDRESS
  std::string bridge, subnet, gateway, dns;
  std::string server;       // weftd's API, HOST:PORT
  std::string xds_address;  // weftd's ADS as the sidecar reaches it, HOST:PORT
  // weftd's CA (its TLS port) as the sidecar reaches it, HOST:PORT; "" = no identity (a control
  // plane without one). The token and root are in WorkloadIdentityFiles (workload_identity.h).
  std::string ca_address;
  std::string trust_domain = "cluster.local";  // meshConfig.trustDomain: the SPIFFE id's
  std::string proxy_binary;
  bool created_service = false;  // add-to-mesh created the ServiceEntry
  int admin_port = kAdminPort;
  pid_t supervisor_pid = 0, proxy_pid = 0, app_pid = 0;
  std::string status;  // starting, running, stopping, failed: ...
};

// <workload dir>/restart-request.json: what `restart-proxy` asks the supervisor to change
// (revision, server, xdsAddress, caAddress, ports) before it sends SIGHUP.
inline constexpr const char* kRestartRequestFile = "restart-request.json";

nlohmann::json ToJson(const WorkloadRecord& w);
nlohmann::json PortsToJson(const std::vector<WorkloadPort>& ports);
std::vector<WorkloadPort> PortsFromJson(const nlohmann::json& j);
std::optional<WorkloadRecord> WorkloadFromJson(const nlohmann::json& j, std::string* error);

std::filesystem::path WorkloadFile(const std::string& name);
std::optional<WorkloadRecord> ReadWorkload(const std::string& name, std::string* error);
// Written to a temporary file then renamed.
bool WriteWorkload(const WorkloadRecord& w, std::string* error);
std::vector<std::string> ListWorkloadNames();

// Flag parsing; each returns nullopt with a message naming the bad value.
// "9080", "9080/http", "9080/tcp", "9080/grpc"; "9080:19080[/tcp]": service port 9080, the
// application on 19080 (the POD_PORTS containerPort; several no-capture workloads of a host
// need an application port each).
std::optional<WorkloadPort> ParsePort(const std::string& text, std::string* error);
// "k=v" with a Kubernetes label key and value.
std::optional<std::pair<std::string, std::string>> ParseLabel(const std::string& text,
                                                              std::string* error);
// "reviews:9080=127.0.0.1:19080".
std::optional<Upstream> ParseUpstream(const std::string& text, std::string* error);
// A DNS-1123 label (the netns, the node id and the directory are named after it).
bool ValidWorkloadName(const std::string& name);

// Checks the ports as a set: duplicates and the sidecar's reserved ports.
bool CheckPorts(const std::vector<WorkloadPort>& ports, std::string* error);

// "wv" + 8 hex digits of a hash of the name: interface names are at most 15 bytes (IFNAMSIZ-1),
// workload names are not.
std::string VethName(const std::string& workload);

// Whether a process with this pid exists (kill(pid, 0)).
bool Alive(pid_t pid);

}  // namespace weft::ctl
