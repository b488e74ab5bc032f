// Child processes for the workload commands: run a command to completion (ip, iptables), or start
// one in the background with its output appended to a log file (the sidecar, the application).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace weft::ctl {

struct CommandResult {
  int status = -1;     // the exit code; 128+N when killed by signal N; -1 when it did not start
  std::string output;  // stdout and stderr together
};

// Runs argv[0] (searched in PATH) and waits for it.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// "ip link add ..." for error messages.
std::string CommandLine(const std::vector<std::string>& argv);

struct SpawnOptions {
  std::string log_path;                    // stdout and stderr appended here ("" = /dev/null)
  std::map<std::string, std::string> env;  // added to (or replacing in) the current environment
  bool own_process_group = true;           // so a signal reaches the command's own children
};

// fork + execvp; returns the child's pid, or -1 with `error` set (exec failures are reported by
// the child as exit status 127 with the reason in the log).
pid_t Spawn(const std::vector<std::string>& argv, const SpawnOptions& options, std::string* error);

// The exit status of a waitpid() status word as a shell shows it.
int ExitCode(int wait_status);

}  // namespace weft::ctl
