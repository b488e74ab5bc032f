#include "ctl/precheck.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "ctl/install_values.h"
#include "ctl/revisions.h"
#include "ctl/weft_home.h"
#include "ctl/weftd_process.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Report {
  int problems = 0, warnings = 0;
  void Ok(const std::string& line) { std::printf("✔ %s\n", line.c_str()); }
  void Problem(const std::string& line) {
    std::printf("✘ %s\n", line.c_str());
    ++problems;
  }
  void Warning(const std::string& line) {
    std::printf("! %s\n", line.c_str());
    ++warnings;
  }
};

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The FORWARD chain's policy from `iptables -S FORWARD` ("-P FORWARD DROP"), "" if unknown.
std::string ForwardPolicy() {
  FILE* p = popen("iptables -S FORWARD 2>/dev/null", "r");
  if (p == nullptr) return "";
  char buf[256];
  std::string policy;
  if (std::fgets(buf, sizeof(buf), p) != nullptr) {
    std::string line(buf);
    if (line.rfind("-P FORWARD ", 0) == 0)
      policy = line.substr(11, line.find_first_of(" \n", 11) - 11);
  }
  pclose(p);
  return policy;
}

// Where a directory would be created: its nearest existing ancestor must be writable.
bool Writable(fs::path dir) {
  std::error_code ec;
  while (!dir.empty() && !fs::exists(dir, ec)) dir = dir.parent_path();
  return access(dir.empty() ? "." : dir.c_str(), W_OK) == 0;
}

}  // namespace

int Precheck() {
  Report r;
  const bool root = geteuid() == 0;
  if (root) {
    r.Ok("running as root: add-to-mesh can create network namespaces and iptables rules");
  } else {
    r.Warning(
        "not root: add-to-mesh cannot capture traffic (network namespaces and iptables "
        "need root); run workloads with --no-capture and --upstream, or run as root");
  }

  // Ports: the default revision's recorded ones when it is installed (a stopped weftd needs them
  // free to start again), else the default values'.
  const json values = *ProfileValues("default");
  std::string error;
  auto record = ReadInstallRecord(kDefaultRevision, &error);
  const bool running = record && IsWeftd(record->pid);
  for (const auto& [key, label] :
       {std::pair{"apiAddress", "API"}, std::pair{"xdsAddress", "xDS"}}) {
    const std::string address =
        record ? (std::string(key) == "apiAddress" ? record->api_address : record->xds_address)
               : values[key].get<std::string>();
    if (running) {
      r.Ok(std::string(label) + " port " + address + " is weftd's (revision default, pid " +
           std::to_string(record->pid) + ")");
    } else if (PortFree(address)) {
      r.Ok(std::string(label) + " port " + address + " is free");
    } else {
      r.Problem(std::string(label) + " port " + address +
                " is in use by another program: stop it, or install with --set " + key +
                "=HOST:PORT (port 0 picks a free one)");
    }
  }

  for (const char* program : {"weftd", "weft-proxy"}) {
    const std::string path = FindProgram(program);
    if (path.empty()) {
      r.Problem(std::string(program) + " not found next to weftctl or on $PATH");
    } else {
      r.Ok(std::string(program) + " found: " + path);
    }
  }
  // Capture mode's tools: ip (netns, veth, bridge), iptables (Istio's redirect rules), setpriv
  // (the sidecar runs as uid 1337).
  for (const char* tool : {"ip", "iptables", "setpriv"}) {
    const std::string path = FindProgram(tool);
    if (!path.empty()) {
      r.Ok(std::string(tool) + " found: " + path);
    } else if (root) {
      r.Problem(std::string(tool) +
                " not found on $PATH: add-to-mesh needs it to capture traffic "
                "(install iproute2 / iptables / util-linux)");
    } else {
      r.Warning(std::string(tool) + " not found on $PATH (needed only for capture mode)");
    }
  }
  if (fs::exists("/proc/self/ns/net")) {
    r.Ok("the kernel supports network namespaces");
  } else {
    (root ? r.Problem("the kernel has no network namespaces (/proc/self/ns/net): use --no-capture")
          : r.Warning("the kernel has no network namespaces (/proc/self/ns/net)"));
  }
  // With br_netfilter loaded, bridged pod-to-pod frames traverse iptables' FORWARD chain; a DROP
  // policy there (Docker sets one) silently drops traffic between workloads on the bridge.
  if (FirstLine("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1" && root &&
      ForwardPolicy() == "DROP") {
    r.Warning(
        "br_netfilter is loaded and iptables' FORWARD policy is DROP: traffic between "
        "workloads on the mesh bridge is dropped unless allowed (iptables -I FORWARD -i "
        "weft0 -o weft0 -j ACCEPT)");
  }
  const fs::path home = WeftHome();
  if (Writable(home)) {
    r.Ok("state directory " + home.string() + " is writable");
  } else {
    r.Problem("state directory " + home.string() +
              " is not writable: run as root, or set WEFT_HOME to a writable directory");
  }

  if (r.problems) {
    std::printf("\n%d problem(s) would stop an install or add-to-mesh\n", r.problems);
    return 1;
  }
  std::printf("\n✔ No problems found%s\n",
              r.warnings ? (" (" + std::to_string(r.warnings) + " warning(s))").c_str() : "");
  return 0;
}

}  // namespace weft::ctl
