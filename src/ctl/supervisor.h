// The process that owns a workload once add-to-mesh has made its network (pilot-agent's role in
// an Istio pod): it starts the sidecar, holds the application until the sidecar is ready
// (Istio's holdApplicationUntilProxyStarts), starts the application, and then waits:
//   - the application exits          -> the sidecar drains (SIGTERM), everything is removed;
//   - SIGTERM (remove-from-mesh)      -> the application gets SIGTERM (SIGKILL after 5 s), then
//                                        the sidecar, then everything is removed;
//   - SIGHUP (restart-proxy)          -> only the sidecar is replaced, from workload.json;
//   - the sidecar dies on its own     -> it is started again (1 s back-off).
// It runs detached (setsid, its parent gone) with its output in <workload dir>/supervisor.log.
#pragma once

#include <sys/types.h>

#include <string>

#include "ctl/workload.h"

namespace weft::ctl {

// Forks the supervisor (double fork + setsid) for the workload recorded in workload.json, and
// waits for its first word: "" when the application is up (running ~1 s), else what went
// wrong. On failure the supervisor has already removed everything.
std::string StartSupervisor(const std::string& name);

// `weftctl __supervise NAME --report-fd N` (hidden): the supervisor itself, after the double fork.
int RunSupervisor(const std::string& name, int report_fd);

// Removes everything a workload made (processes still alive are killed first): its netns, veth
// and /etc/netns dir, its addresses (and the bridge when weftctl made it and nobody uses it), the
// ServiceEntry when add-to-mesh created it and no other workload of the service is left, and
// workload.json (the logs stay). Used by the supervisor and, for a workload whose supervisor died,
// by remove-from-mesh.
void TearDownWorkload(const WorkloadRecord& w);

struct AdminAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};
// GET `path` on a workload's sidecar admin (127.0.0.1:<admin port>; inside the pod's network
// namespace for a captured workload, which needs root).
AdminAnswer SidecarAdminGet(const WorkloadRecord& w, const std::string& path);

// The last `lines` lines of a file (for "see app.log").
std::string Tail(const std::string& path, int lines);

}  // namespace weft::ctl
