// weftctl's control-plane lifecycle, istioctl's verbs on a plain host: install (idempotent; a
// change of values restarts weftd on the same data dir and ports), uninstall, upgrade (this
// build's weftd replaces the running one, after warnings), and the canary revision's import.
// Each returns the exit code. State lives under <home>/control-planes/<revision> (weft_home.h).
#pragma once

#include <string>
#include <vector>

namespace weft::ctl {

struct InstallOptions {
  std::string profile = "default";
  std::vector<std::string> files;  // -f, in order
  std::vector<std::string> sets;   // --set, in order
  std::string revision = "default";
  bool yes = false;    // -y: no confirmation (asked only when stdin is a terminal)
  bool force = false;  // upgrade: allow a downgrade
};

int Install(const InstallOptions& options);
int Uninstall(const std::string& revision, bool purge, bool force);
int Upgrade(const InstallOptions& options);

// "0.5.0" -> {0, 5, 0}; false for anything else.
bool ParseVersion(const std::string& text, int out[3]);

// Istio's control plane / data plane skew: a proxy may be at most one minor version older than
// its control plane, and never newer (istio.io/latest/docs/releases/supported-releases/).
// "older", "newer", or "" when `proxy` is within it.
std::string SkewProblem(const int proxy[3], const int control_plane[3]);

}  // namespace weft::ctl
