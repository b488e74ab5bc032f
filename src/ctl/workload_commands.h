// weftctl's workload commands: add-to-mesh, remove-from-mesh, exec, workloads, restart-proxy.
// main.cc registers them with RegisterWorkloadCommands and runs whichever was given.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace weft::ctl {

struct WorkloadCommandLine {
  // add-to-mesh
  std::string name, service, service_account = "default", revision;
  std::vector<std::string> ports, labels, upstreams, command;
  bool no_capture = false;
  // exec / restart-proxy / remove-from-mesh reuse name, command and revision.
  CLI::App* add = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* exec = nullptr;
  CLI::App* list = nullptr;
  CLI::App* restart_proxy = nullptr;
  CLI::App* supervise = nullptr;  // hidden: the supervisor process
  int report_fd = -1;
};

void RegisterWorkloadCommands(CLI::App& app, WorkloadCommandLine* cli);

// Takes everything after the first "--" (add-to-mesh's and exec's COMMAND) out of argv before
// CLI11 sees it, so the command's own flags (python3 -m ...) are never parsed as weftctl's.
void SplitCommand(int* argc, char** argv, WorkloadCommandLine* cli);

// The exit code of the workload command that was given, nullopt when none was. `server`: the
// --server flag or $WEFT_SERVER ("" when neither: the install record's apiAddress is used);
// `ns`: the global --namespace; `revision`: a global --revision, used when the command's own
// --revision is not given ("" = the default revision).
std::optional<int> RunWorkloadCommand(const WorkloadCommandLine& cli, const std::string& server,
                                      const std::string& ns, const std::string& revision = "");

}  // namespace weft::ctl
