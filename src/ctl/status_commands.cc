#include "ctl/status_commands.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "base/yaml_json.h"
#include "ctl/client.h"
#include "ctl/json_fields.h"
#include "ctl/output.h"
#include "ctl/revisions.h"
#include "ctl/tls_probe.h"
#include "ctl/weft_home.h"
#include "ctl/weftd_process.h"
#include "weft_version.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> Revisions(const std::string& revision) {
  if (!revision.empty()) return {revision};
  return InstalledRevisions();
}

}  // namespace

int Version(bool short_form, const std::string& output, const std::string& revision,
            const std::string& server) {
  json control_planes = json::array(), proxies = json::array();
  // Each control plane to ask: an installed revision (by its record), or the named server.
  std::vector<std::pair<std::string, std::optional<InstallRecord>>> targets;
  if (!server.empty() && revision.empty()) {
    targets.emplace_back("", std::nullopt);
  } else {
    for (const std::string& rev : Revisions(revision)) {
      std::string error;
      if (auto record = ReadInstallRecord(rev, &error)) targets.emplace_back(rev, record);
    }
  }
  for (const auto& [rev, record] : targets) {
    json cp = {{"revision", rev},
               {"pid", record ? record->pid : 0},
               {"apiAddress", record ? record->api_address : server}};
    if (record && !IsWeftd(record->pid)) {
      cp["version"] = "";
      cp["error"] = "not running";
      control_planes.push_back(cp);
      continue;
    }
    Client client(record ? "http://" + record->api_address : server);
    Response v = client.Get("/version");
    cp["version"] = TextField(v.body, "version");
    if (!record) cp["revision"] = TextField(v.body, "revision");
    cp["gitCommit"] = TextField(v.body, "gitCommit");
    if (v.status != 200) cp["error"] = "GET /version failed";
    control_planes.push_back(cp);
    Response p = client.Get("/debug/proxies");
    for (const json& proxy : Items(p.body, "proxies")) {
      proxies.push_back({{"id", TextField(proxy, "node_id")},
                         {"revision", cp["revision"]},
                         {"userAgent", TextField(proxy, "userAgent")},
                         {"version", TextField(proxy, "version")}});
    }
  }
  if (output == "json") {
    PrintJson({{"clientVersion", {{"version", kVersion}, {"gitCommit", kGitCommit}}},
               {"controlPlaneVersions", control_planes},
               {"dataPlaneVersions", proxies}});
    return 0;
  }
  // istioctl's summary: one line each, versions with their counts.
  std::printf("client version: %s\n", kVersion);
  if (control_planes.empty()) {
    std::printf("control plane version: none installed (weftctl install)\n");
  }
  for (const json& cp : control_planes) {
    const std::string v = TextField(cp, "version");
    std::printf("control plane version: %s (revision %s)\n",
                v.empty() ? ("unavailable: " + TextField(cp, "error")).c_str() : v.c_str(),
                TextField(cp, "revision").c_str());
  }
  std::map<std::string, int> by_version;
  for (const json& p : proxies) {
    const std::string v = TextField(p, "version");
    ++by_version[v.empty() ? "unknown" : v];
  }
  std::string summary;
  for (const auto& [v, n] : by_version)
    summary += (summary.empty() ? "" : ", ") + v + " (" + std::to_string(n) + " proxies)";
  std::printf("data plane version: %s\n",
              summary.empty() ? "no proxies connected" : summary.c_str());
  if (short_form || proxies.empty()) return 0;
  std::printf("\n");
  Table table({"PROXY", "REVISION", "AGENT", "VERSION"});
  for (const json& p : proxies) {
    table.AddRow({TextField(p, "id"), TextField(p, "revision"), TextField(p, "userAgent"),
                  TextField(p, "version")});
  }
  table.Print();
  return 0;
}

int VerifyInstall(const std::string& revision) {
  const std::vector<std::string> revisions = Revisions(revision);
  if (revisions.empty()) {
    std::printf("✘ no control plane installed in %s (weftctl install)\n", WeftHome().c_str());
    return 1;
  }
  int failures = 0;
  auto check = [&](bool ok, const std::string& line) {
    std::printf("%s %s\n", ok ? "✔" : "✘", line.c_str());
    if (!ok) ++failures;
    return ok;
  };
  for (const std::string& rev : revisions) {
    std::string error;
    auto record = ReadInstallRecord(rev, &error);
    if (!check(record.has_value(),
               "revision " + rev + ": install record " +
                   (record ? "readable" : (error.empty() ? "missing" : error)))) {
      continue;
    }
    if (!check(
            IsWeftd(record->pid),
            "weftd process " + std::to_string(record->pid) +
                (IsWeftd(record->pid) ? " is running"
                                      : " is not running (see " +
                                            (ControlPlaneDir(rev) / "weftd.log").string() + ")"))) {
      continue;
    }
    Client client("http://" + record->api_address);
    Response v = client.Get("/version");
    const std::string version = TextField(v.body, "version");
    if (check(v.status == 200, "API http://" + record->api_address + " answers GET /version")) {
      check(version == kVersion,
            "weftd version " + version + (version == kVersion ? " matches" : " differs from") +
                " this weftctl's " + kVersion + (version == kVersion ? "" : " (weftctl upgrade)"));
      Response store = client.Get("/apis/networking.istio.io/v1/virtualservices");
      check(store.status == 200, "store readable (" +
                                     std::to_string(Items(store.body, "items").size()) +
                                     " VirtualService(s))");
    }
    check(Accepting(record->xds_address),
          "xDS " + record->xds_address +
              (Accepting(record->xds_address) ? " accepts connections"
                                              : " does not accept connections"));
    // The CA: weftd's TLS port (CA + ADS) and the mesh root sidecars are given to trust it.
    const fs::path root = MeshRootCertPath(ControlPlaneDir(rev));
    if (record->xds_tls_address.empty()) {
      check(false, "CA: no TLS port recorded (installed by an older weftctl: weftctl upgrade)");
    } else {
      // A sidecar's handshake: the chain verified against the mesh root, the name it dials.
      const TlsProbe probe = ProbeTls(record->xds_tls_address, root.string(),
                                      "istiod.istio-system.svc", std::chrono::seconds(5));
      check(probe.ok, "CA and xDS over TLS " + record->xds_tls_address + ": " + probe.detail);
    }
    std::error_code ec;
    const bool root_ok = fs::is_regular_file(root, ec) && fs::file_size(root, ec) > 0;
    check(root_ok, "mesh root " + root.string() + (root_ok ? " exists" : ": missing or empty"));
    const fs::path mesh_config = ControlPlaneDir(rev) / "mesh-config.yaml";
    std::ifstream in(mesh_config);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = weft::yaml::DocumentsToJson(text.str());
    const bool ok =
        in.is_open() && parsed.ok() && parsed->size() == 1 && parsed->front().is_object();
    check(ok, "mesh config " + mesh_config.string() +
                  (ok              ? " readable"
                   : !in.is_open() ? ": missing"
                   : !parsed.ok()  ? ": " + std::string(parsed.status().message())
                                   : ": not one YAML mapping"));
  }
  if (failures) {
    std::printf("\n%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("\n✔ Weft is installed and verified successfully\n");
  return 0;
}

}  // namespace weft::ctl
