// weftd as a background service started by weftctl: found next to weftctl, started in its own
// session (setsid: a closed terminal does not stop it) with stdout/stderr to weftd.log, waited
// for until its API answers GET /version, and stopped by its recorded pid only after checking
// that the pid is still a weftd (a stale pid file must not make weftctl signal a stranger).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace weft::ctl {

// `name` ("weftd", "weft-proxy") in weftctl's own directory, else on $PATH; "" if neither.
std::string FindProgram(const std::string& name);
// This weftctl's executable (/proc/self/exe).
std::filesystem::path SelfPath();

struct WeftdLaunch {
  std::string binary;
  std::filesystem::path dir;  // <home>/control-planes/<revision>: log, pid file, address files
  std::string api_address, xds_address;  // HOST:PORT, port 0 for any free one
  std::string xds_tls_address;           // --xds-tls-addr: the CA and ADS over TLS
  std::string revision, registration_grace, log_level;
  std::string workload_cert_ttl = "24h";  // --workload-cert-ttl
  std::string cacerts;                    // --cacerts DIR, "" for weftd's own root
};

struct StartedWeftd {
  int pid = 0;
  std::string api_address, xds_address, xds_tls_address;  // as weftd bound them
};

// The mesh root weftd's CA signs with (Istio's plug-in name), in the revision's data dir.
std::filesystem::path MeshRootCertPath(const std::filesystem::path& control_plane_dir);

// Starts weftd (data in <dir>/data, mesh config <dir>/mesh-config.yaml, which must exist) and
// waits up to `timeout` for GET /version to answer. On failure nothing is left running and
// `error` says why, with the log's last lines.
bool StartWeftd(const WeftdLaunch& launch, std::chrono::seconds timeout, StartedWeftd* started,
                std::string* error);

// Whether `pid` is alive (not a zombie) and runs a weftd executable.
bool IsWeftd(int pid);
// SIGTERM, then waits up to `timeout` for it to exit (SIGKILL after). False if it is not weftd.
bool StopWeftd(int pid, std::chrono::seconds timeout, std::string* error);

// The last `lines` lines of a file, for error messages.
std::string Tail(const std::filesystem::path& path, int lines);

// Whether a TCP listener could bind HOST:PORT now (port 0 always can).
bool PortFree(const std::string& address);
// Whether something accepts TCP connections on HOST:PORT (0.0.0.0 is tried as 127.0.0.1).
bool Accepting(const std::string& address);
// A connected TCP socket to HOST:PORT (0.0.0.0 as 127.0.0.1), or -1. The caller closes it.
int ConnectTcp(const std::string& address);

}  // namespace weft::ctl
