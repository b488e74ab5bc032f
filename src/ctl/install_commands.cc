#include "ctl/install_commands.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "control/model/kinds.h"
#include "ctl/client.h"
#include "ctl/documents.h"
#include "ctl/install_values.h"
#include "ctl/json_fields.h"
#include "ctl/output.h"
#include "ctl/revisions.h"
#include "ctl/weft_home.h"
#include "ctl/weftd_process.h"
#include "weft_version.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::chrono::seconds kReadyTimeout{30};
constexpr std::chrono::seconds kStopTimeout{15};

// One lifecycle command per revision at a time: two `weftctl install` at once would otherwise
// both see "not installed" and start two weftds. Held until the command ends (the fd is
// close-on-exec, so weftd does not inherit it). `create`: make the revision's directory for it.
class RevisionLock {
 public:
  RevisionLock(const std::string& revision, bool create) {
    const fs::path dir = ControlPlaneDir(revision);
    std::error_code ec;
    if (create) fs::create_directories(dir, ec);
    fd_ = open((dir / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~RevisionLock() {
    if (fd_ >= 0) close(fd_);
  }
  RevisionLock(const RevisionLock&) = delete;
  RevisionLock& operator=(const RevisionLock&) = delete;

 private:
  int fd_ = -1;
};

std::string Rev(const std::string& revision) {
  return revision.empty() ? kDefaultRevision : revision;
}

// Profile, then -f files, then --set, validated. On error prints it and returns nullopt.
std::optional<json> MergedValues(const InstallOptions& o, const json& start) {
  json base = WithDefaults(start);
  std::string error;
  for (const std::string& f : o.files) {
    if (!MergeValuesFile(&base, f, &error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return std::nullopt;
    }
  }
  for (const std::string& s : o.sets) {
    if (!ApplySet(&base, s, &error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return std::nullopt;
    }
  }
  if (!ValidateValues(base, &error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return std::nullopt;
  }
  // weftd reads the plug-in CA files at each start, from whatever directory a later `weftctl
  // upgrade` runs in: record where they are, not where they were relative to.
  if (const std::string cacerts = base["security"]["cacerts"]; !cacerts.empty())
    base["security"]["cacerts"] = fs::absolute(cacerts).lexically_normal().string();
  return base;
}

// istioctl asks "Proceed? (y/N)" before it changes a cluster; here only when someone is at a
// terminal to answer (a script without -y is not left hanging).
bool Confirm(const std::string& what, bool yes) {
  if (yes || !isatty(0)) return true;
  std::printf("%s Proceed? (y/N) ", what.c_str());
  std::fflush(stdout);
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

bool WriteMeshConfig(const fs::path& dir, const json& values) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream out(dir / "mesh-config.yaml", std::ios::trunc);
  out << "# Written by weftctl from the install values' meshConfig; weftd reads it at start.\n"
      << ToYaml(values["meshConfig"]);
  return static_cast<bool>(out.flush());
}

// The address to start on: the one the running weftd had when the value did not change (so a
// restart keeps port 0's pick), else the value.
std::string KeepPort(const std::optional<InstallRecord>& old, const json& values, const char* key,
                     const std::string& bound) {
  if (old && old->values.contains(key) && old->values[key] == values[key] && !bound.empty())
    return bound;
  return values[key];
}

// KeepPort for the TLS port, whose value may be derived from xdsAddress: the bound one is kept
// when neither changed.
std::string KeepTlsPort(const std::optional<InstallRecord>& old, const json& values) {
  if (old && !old->xds_tls_address.empty() && old->values.contains("xdsTlsAddress") &&
      old->values["xdsTlsAddress"] == values["xdsTlsAddress"] &&
      old->values["xdsAddress"] == values["xdsAddress"])
    return old->xds_tls_address;
  return XdsTlsAddress(values);
}

bool CheckPortsFree(const std::string& api, const std::string& xds, const std::string& xds_tls) {
  bool ok = true;
  for (const auto& [key, address] : {std::pair{"apiAddress", api}, std::pair{"xdsAddress", xds},
                                     std::pair{"xdsTlsAddress", xds_tls}}) {
    if (!PortFree(address)) {
      std::fprintf(stderr,
                   "error: %s %s: the port is already in use (`weftctl precheck` shows what is "
                   "in the way; --set %s=HOST:0 picks a free port)\n",
                   key, address.c_str(), key);
      ok = false;
    }
  }
  return ok;
}

// Starts weftd for `values`, records it, and prints what it started.
// This build's weftd, or "" after saying it is missing (checked before anything is stopped).
std::string WeftdBinary() {
  std::string binary = FindProgram("weftd");
  if (binary.empty()) {
    std::fprintf(stderr, "error: weftd not found next to weftctl (%s) or on $PATH\n",
                 SelfPath().parent_path().c_str());
  }
  return binary;
}

bool StartAndRecord(const std::string& binary, const std::string& revision,
                    const std::string& profile, const json& values, const std::string& api,
                    const std::string& xds, const std::string& xds_tls, InstallRecord* record) {
  const fs::path dir = ControlPlaneDir(revision);
  if (!WriteMeshConfig(dir, values)) {
    std::fprintf(stderr, "error: cannot write %s\n", (dir / "mesh-config.yaml").c_str());
    return false;
  }
  WeftdLaunch launch{binary,
                     dir,
                     api,
                     xds,
                     xds_tls,
                     revision,
                     values["registrationGrace"],
                     values["logLevel"],
                     values["security"]["workloadCertTTL"],
                     values["security"]["cacerts"]};
  StartedWeftd started;
  std::string error;
  if (!StartWeftd(launch, kReadyTimeout, &started, &error)) {
    std::fprintf(stderr, "error: %s", error.c_str());
    return false;
  }
  *record = InstallRecord{revision,
                          profile,
                          started.api_address,
                          started.xds_address,
                          started.xds_tls_address,
                          kVersion,
                          binary,
                          started.pid,
                          values};
  if (!WriteInstallRecord(*record, &error)) {
    std::fprintf(stderr,
                 "error: %s (weftd pid %d is running; `weftctl uninstall` cannot find it)\n",
                 error.c_str(), started.pid);
    return false;
  }
  return true;
}

void PrintStarted(const InstallRecord& r) {
  const fs::path dir = ControlPlaneDir(r.revision);
  std::printf("  revision:    %s (profile %s)\n", r.revision.c_str(), r.profile.c_str());
  std::printf("  pid:         %d\n", r.pid);
  std::printf("  API:         http://%s\n", r.api_address.c_str());
  std::printf("  xDS:         %s\n", r.xds_address.c_str());
  std::printf("  xDS+CA/TLS:  %s (mesh root %s)\n", r.xds_tls_address.c_str(),
              MeshRootCertPath(dir).c_str());
  std::printf("  data dir:    %s\n", (dir / "data").c_str());
  std::printf("  log:         %s\n", (dir / "weftd.log").c_str());
  std::printf("  mesh config: %s\n", (dir / "mesh-config.yaml").c_str());
}

// A canary starts with the default revision's resources, under the API version each was stored
// with (weftd's /debug/storedversions), so both revisions serve the same config.
void ImportFrom(const std::string& from_revision, Client& to) {
  std::string error;
  auto from_record = ReadInstallRecord(from_revision, &error);
  if (!from_record || !IsWeftd(from_record->pid)) {
    std::printf(
        "Revision %s is not running: nothing imported (apply your resources to this "
        "revision)\n",
        from_revision.c_str());
    return;
  }
  Client from("http://" + from_record->api_address);
  Response list = from.Get("/debug/storedversions");
  if (list.status != 200) {
    std::fprintf(stderr, "warning: could not list revision %s's resources; nothing imported\n",
                 from_revision.c_str());
    return;
  }
  int imported = 0, failed = 0;
  for (const json& item : Items(list.body, "items")) {
    const control::KindInfo* kind = control::FindKindByName(TextField(item, "kind"));
    if (kind == nullptr) continue;
    std::string version = TextField(item, "apiVersion");
    version = version.substr(version.find('/') + 1);
    const std::string ns = TextField(item, "namespace");
    const std::string path = CollectionPath(version, *kind, ns);
    Response got = from.Get(path + "/" + EscapePathSegment(TextField(item, "name")));
    if (got.status != 200) {
      ++failed;
      continue;
    }
    json object = got.body;
    for (const char* server_set : {"resourceVersion", "uid", "creationTimestamp", "generation"})
      object["metadata"].erase(server_set);
    Response created = to.Call("POST", path, object.dump());
    if (created.status == 201 || created.status == 409) {
      ++imported;
    } else {
      ++failed;
      ServerError(created);
    }
  }
  std::printf("✔ Imported %d resource(s) from revision %s%s\n", imported, from_revision.c_str(),
              failed ? (" (" + std::to_string(failed) + " failed)").c_str() : "");
}

}  // namespace

bool ParseVersion(const std::string& text, int out[3]) {
  return std::sscanf(text.c_str(), "%d.%d.%d", &out[0], &out[1], &out[2]) == 3;
}

std::string SkewProblem(const int proxy[3], const int control_plane[3]) {
  if (std::lexicographical_compare(control_plane, control_plane + 3, proxy, proxy + 3))
    return "newer";
  if (proxy[0] != control_plane[0] || control_plane[1] - proxy[1] > 1) return "older";
  return "";
}

int Install(const InstallOptions& o) {
  const std::string revision = Rev(o.revision);
  std::optional<json> profile = ProfileValues(o.profile);
  if (!profile) {
    std::fprintf(stderr, "error: unknown profile \"%s\" (known: default, minimal, demo)\n",
                 o.profile.c_str());
    return 1;
  }
  const json profile_defaults = *profile;
  std::optional<json> values = MergedValues(o, *profile);
  if (!values) return 1;
  RevisionLock lock(revision, /*create=*/true);
  std::string error;
  std::optional<InstallRecord> old = ReadInstallRecord(revision, &error);
  if (!error.empty()) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  // A second revision beside the default one: its default ports are taken, so it gets free ones
  // unless the user chose them.
  if (revision != kDefaultRevision) {
    for (const char* key : {"apiAddress", "xdsAddress", "xdsTlsAddress"}) {
      if ((*values)[key] == profile_defaults[key] && !(*values)[key].get<std::string>().empty()) {
        std::string host;
        int port = 0;
        SplitHostPort((*values)[key], &host, &port);
        (*values)[key] = host + ":0";
      }
    }
  }
  const bool running = old && IsWeftd(old->pid);
  if (running && old->values == *values && old->profile == o.profile) {
    std::printf(
        "✔ Weft control plane revision %s is already installed with these values and "
        "running; nothing changed.\n",
        revision.c_str());
    PrintStarted(*old);
    return 0;
  }
  const std::string binary = WeftdBinary();
  if (binary.empty()) return 1;
  const std::vector<std::string> changed =
      running ? ChangedKeys(old->values, *values) : std::vector<std::string>{};
  std::string what = "This will install the Weft control plane (profile " + o.profile +
                     ", revision " + revision + ") into " + WeftHome().string() + ".";
  if (!Confirm(what, o.yes)) {
    std::fprintf(stderr, "Cancelled.\n");
    return 1;
  }
  const std::string api = KeepPort(old, *values, "apiAddress", old ? old->api_address : "");
  const std::string xds = KeepPort(old, *values, "xdsAddress", old ? old->xds_address : "");
  const std::string xds_tls = KeepTlsPort(old, *values);
  if (running) {
    if (!StopWeftd(old->pid, kStopTimeout, &error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
  }
  if (!CheckPortsFree(api, xds, xds_tls)) return 1;
  InstallRecord record;
  if (!StartAndRecord(binary, revision, o.profile, *values, api, xds, xds_tls, &record)) return 1;
  if (running) {
    std::string keys;
    for (const std::string& k : changed) keys += (keys.empty() ? "" : ", ") + k;
    if (old->profile != o.profile) keys += (keys.empty() ? "" : ", ") + std::string("profile");
    std::printf(
        "✔ Applied changed values (%s): restarted weftd (pid %d -> %d) on the same data "
        "dir and ports\n",
        keys.c_str(), old->pid, record.pid);
  } else {
    std::printf("✔ Weft control plane %s installed%s\n", kVersion,
                old ? " (the recorded weftd was not running: started it again)" : "");
  }
  PrintStarted(record);
  if (!old && revision != kDefaultRevision) {
    Client to("http://" + record.api_address);
    ImportFrom(kDefaultRevision, to);
  }
  return 0;
}

int Uninstall(const std::string& rev, bool purge, bool force) {
  const std::string revision = Rev(rev);
  RevisionLock lock(revision, /*create=*/false);
  std::string error;
  std::optional<InstallRecord> record = ReadInstallRecord(revision, &error);
  const fs::path dir = ControlPlaneDir(revision);
  if (!record) {
    if (!error.empty()) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    if (!(purge && fs::exists(dir))) {
      std::fprintf(stderr, "error: revision %s is not installed (no %s)\n", revision.c_str(),
                   (dir / "install.json").c_str());
      return 1;
    }
  }
  const std::vector<std::string> users = WorkloadsUsing(revision);
  if (!users.empty() && !force) {
    std::string names;
    for (const std::string& n : users) names += (names.empty() ? "" : ", ") + n;
    std::fprintf(stderr,
                 "error: revision %s is still used by %zu workload(s): %s. Remove them first "
                 "(weftctl remove-from-mesh NAME), or pass --force to leave them without a "
                 "control plane.\n",
                 revision.c_str(), users.size(), names.c_str());
    return 1;
  }
  if (record && IsWeftd(record->pid)) {
    if (!StopWeftd(record->pid, kStopTimeout, &error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return 1;
    }
    std::printf("✔ Stopped weftd (revision %s, pid %d)\n", revision.c_str(), record->pid);
  } else if (record) {
    std::printf("weftd (revision %s, pid %d) was not running\n", revision.c_str(), record->pid);
  }
  std::error_code ec;
  for (const char* f :
       {"install.json", "weftd.pid", "api-address", "xds-address", "xds-tls-address"})
    fs::remove(dir / f, ec);
  if (purge) {
    fs::remove_all(dir, ec);
    fs::remove(dir.parent_path(), ec);  // control-planes/, only when it is now empty
    std::printf("✔ Removed revision %s and its data (%s)\n", revision.c_str(), dir.c_str());
  } else {
    std::printf("✔ Uninstalled revision %s; its data stays in %s (--purge removes it)\n",
                revision.c_str(), (dir / "data").c_str());
  }
  return 0;
}

int Upgrade(const InstallOptions& o) {
  const std::string revision = Rev(o.revision);
  RevisionLock lock(revision, /*create=*/false);
  std::string error;
  std::optional<InstallRecord> old = ReadInstallRecord(revision, &error);
  if (!old) {
    std::fprintf(stderr, "error: %s\n",
                 error.empty()
                     ? ("revision " + revision + " is not installed (weftctl install)").c_str()
                     : error.c_str());
    return 1;
  }
  std::optional<json> values = MergedValues(o, old->values);
  if (!values) return 1;
  const std::string binary = WeftdBinary();
  if (binary.empty()) return 1;
  const bool running = IsWeftd(old->pid);
  Client current("http://" + old->api_address);
  std::string running_version = old->version;
  if (running) {
    Response v = current.Get("/version");
    if (v.status == 200) running_version = TextField(v.body, "version", running_version);
  }
  int from[3] = {0, 0, 0}, to[3] = {kVersionMajor, kVersionMinor, kVersionPatch};
  const bool known = ParseVersion(running_version, from);
  if (known && std::lexicographical_compare(to, to + 3, from, from + 3) && !o.force) {
    std::fprintf(stderr,
                 "error: revision %s runs weftd %s, newer than this weftctl's %s: that is a "
                 "downgrade (--force to do it anyway)\n",
                 revision.c_str(), running_version.c_str(), kVersion);
    return 1;
  }
  std::printf("Upgrading revision %s: weftd %s -> %s\n", revision.c_str(), running_version.c_str(),
              kVersion);
  int warnings = 0;
  if (running) {
    // Istio 1.22 promoted networking.istio.io to v1 and asks users to move their YAML off
    // v1alpha3/v1beta1 (istio.io/latest/blog/2024/v1-apis/); weftd still serves v1alpha3, but
    // warn about what is stored under it, as a deprecation check before an upgrade.
    Response stored = current.Get("/debug/storedversions");
    for (const json& item : Items(stored.body, "items")) {
      if (TextField(item, "apiVersion") != "networking.istio.io/v1alpha3") continue;
      std::printf(
          "Warning: %s %s/%s is stored as networking.istio.io/v1alpha3, deprecated since "
          "Istio 1.22 promoted the networking API to v1: re-apply it as "
          "networking.istio.io/v1\n",
          TextField(item, "kind").c_str(), TextField(item, "namespace").c_str(),
          TextField(item, "name").c_str());
      ++warnings;
    }
    // Istio supports a control plane at most one minor version ahead of its proxies, and no
    // proxy newer than its control plane (istio.io/latest/docs/releases/supported-releases/,
    // "Control plane/data plane skew").
    Response proxies = current.Get("/debug/proxies");
    for (const json& p : Items(proxies.body, "proxies")) {
      int pv[3];
      const std::string version = TextField(p, "version");
      if (!ParseVersion(version, pv)) continue;
      const std::string problem = SkewProblem(pv, to);
      if (!problem.empty()) {
        std::printf(
            "Warning: proxy %s runs %s, %s than the supported skew for control plane %s "
            "(one minor version older at most, never newer): re-add it to the mesh "
            "after the upgrade\n",
            TextField(p, "node_id").c_str(), version.c_str(), problem.c_str(), kVersion);
        ++warnings;
      }
    }
  }
  if (!Confirm("This will replace weftd of revision " + revision + " with " + binary +
                   (warnings ? " despite the warnings above." : "."),
               o.yes)) {
    std::fprintf(stderr, "Cancelled.\n");
    return 1;
  }
  const std::string api = KeepPort(old, *values, "apiAddress", old->api_address);
  const std::string xds = KeepPort(old, *values, "xdsAddress", old->xds_address);
  const std::string xds_tls = KeepTlsPort(old, *values);
  if (running && !StopWeftd(old->pid, kStopTimeout, &error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  InstallRecord record;
  if (!StartAndRecord(binary, revision, old->profile, *values, api, xds, xds_tls, &record))
    return 1;
  std::printf(
      "✔ Upgraded revision %s to %s (pid %d -> %d); proxies reconnect on their own and "
      "weftd restores their registrations\n",
      revision.c_str(), kVersion, old->pid, record.pid);
  PrintStarted(record);
  return 0;
}

}  // namespace weft::ctl
