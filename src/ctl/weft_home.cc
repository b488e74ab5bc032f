#include "ctl/weft_home.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <system_error>

namespace weft::ctl {

std::filesystem::path WeftHome() {
  if (const char* home = std::getenv("WEFT_HOME"); home != nullptr && *home != '\0') return home;
  if (geteuid() == 0) return "/var/lib/weft";
  const char* user_home = std::getenv("HOME");
  return std::filesystem::path(user_home != nullptr && *user_home != '\0' ? user_home : ".") /
         ".weft";
}

std::filesystem::path ControlPlaneDir(const std::string& revision) {
  return WeftHome() / "control-planes" / (revision.empty() ? kDefaultRevision : revision);
}

std::filesystem::path WorkloadDir(const std::string& name) {
  return WeftHome() / "workloads" / name;
}

nlohmann::json ToJson(const InstallRecord& r) {
  return {{"revision", r.revision},
          {"profile", r.profile},
          {"apiAddress", r.api_address},
          {"xdsAddress", r.xds_address},
          {"xdsTlsAddress", r.xds_tls_address},
          {"version", r.version},
          {"binary", r.binary},
          {"pid", r.pid},
          {"values", r.values}};
}

std::optional<InstallRecord> InstallRecordFromJson(const nlohmann::json& j, std::string* error) {
  if (!j.is_object()) {
    *error = "not a JSON object";
    return std::nullopt;
  }
  InstallRecord r;
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key)) return true;
    if (!j[key].is_string()) {
      *error = std::string(key) + ": not a string";
      return false;
    }
    out = j[key].get<std::string>();
    return true;
  };
  if (!str("revision", r.revision) || !str("profile", r.profile) ||
      !str("apiAddress", r.api_address) || !str("xdsAddress", r.xds_address) ||
      !str("xdsTlsAddress", r.xds_tls_address) || !str("version", r.version) ||
      !str("binary", r.binary)) {
    return std::nullopt;
  }
  if (j.contains("pid")) {
    if (!j["pid"].is_number_integer()) {
      *error = "pid: not an integer";
      return std::nullopt;
    }
    r.pid = j["pid"].get<int>();
  }
  if (j.contains("values")) {
    if (!j["values"].is_object()) {
      *error = "values: not an object";
      return std::nullopt;
    }
    r.values = j["values"];
  }
  return r;
}

std::optional<InstallRecord> ReadInstallRecord(const std::string& revision, std::string* error) {
  error->clear();
  const std::filesystem::path path = ControlPlaneDir(revision) / "install.json";
  std::ifstream in(path);
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = path.string() + ": not valid JSON";
    return std::nullopt;
  }
  std::string why;
  auto record = InstallRecordFromJson(j, &why);
  if (!record) *error = path.string() + ": " + why;
  return record;
}

bool WriteInstallRecord(const InstallRecord& record, std::string* error) {
  const std::filesystem::path dir = ControlPlaneDir(record.revision);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = dir.string() + ": " + ec.message();
    return false;
  }
  const std::filesystem::path tmp = dir / "install.json.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ToJson(record).dump(2) << "\n";
    if (!out.flush()) {
      *error = tmp.string() + ": write failed";
      return false;
    }
  }
  std::filesystem::rename(tmp, dir / "install.json", ec);
  if (ec) {
    *error = (dir / "install.json").string() + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace weft::ctl
