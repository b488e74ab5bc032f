// Where weftctl keeps what it installed and started on this host, shared by the lifecycle
// commands (install, upgrade, uninstall, version) and the workload commands (add-to-mesh,
// remove-from-mesh, exec):
//
//   <home>/control-planes/<revision>/install.json   what `weftctl install` started (InstallRecord)
//   <home>/control-planes/<revision>/...            weftd's pid file, log, data dir, mesh config
//   <home>/workloads/<name>/                        one workload added to the mesh
//
// <home> is $WEFT_HOME when set (tests give each run its own), else /var/lib/weft as root (the
// FHS place for a service's state), else ~/.weft. The default revision is named "default", as
// Istio names its unrevisioned control plane.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace weft::ctl {

inline constexpr const char* kDefaultRevision = "default";

std::filesystem::path WeftHome();
// `revision` "" means the default revision.
std::filesystem::path ControlPlaneDir(const std::string& revision);
std::filesystem::path WorkloadDir(const std::string& name);

// control-planes/<revision>/install.json.
struct InstallRecord {
  std::string revision = kDefaultRevision;
  std::string profile = "default";
  std::string api_address;  // HOST:PORT weftd's API answers on, as weftd reported it
  std::string xds_address;  // HOST:PORT of its ADS server, as weftd reported it
  // HOST:PORT of its TLS port (the CA and ADS, Istio's 15012), as weftd reported it; "" in a
  // record written before weftd had one.
  std::string xds_tls_address;
  std::string version;  // weftd's version when it was started
  std::string binary;   // the weftd executable that was started
  int pid = 0;
  nlohmann::json values = nlohmann::json::object();  // profile + -f files + --set, merged
};

nlohmann::json ToJson(const InstallRecord& record);
// Refuses a record of the wrong shape with the field's name in `error`.
std::optional<InstallRecord> InstallRecordFromJson(const nlohmann::json& j, std::string* error);

// nullopt with `error` empty: not installed; with `error` set: unreadable or malformed.
std::optional<InstallRecord> ReadInstallRecord(const std::string& revision, std::string* error);
// Written to a temporary file then renamed, so a reader never sees half a record.
bool WriteInstallRecord(const InstallRecord& record, std::string* error);

}  // namespace weft::ctl
