// The ServiceEntry a workload joins: add-to-mesh creates "<service>" in the workload's namespace
// when it does not exist (hosts [service], MESH_INTERNAL, STATIC, the --port ports, selecting
// app=<service>) and marks it with the annotation weft.io/created-by: weftctl; the last workload
// of the service to leave deletes such a ServiceEntry, and never one a user applied.
#pragma once

#include <string>
#include <vector>

#include "ctl/client.h"
#include "ctl/workload.h"

namespace weft::ctl {

inline constexpr const char* kCreatedByAnnotation = "weft.io/created-by";
inline constexpr const char* kCreatedByValue = "weftctl";

// Creates the ServiceEntry or adopts the existing one: a port the ServiceEntry already has takes
// its name (POD_PORTS and the ServiceEntry must agree on names for the endpoint to get the
// port). `warnings` say what will not work (a port the ServiceEntry lacks, a selector that does
// not pick the workload). False with `error` when weftd refused or could not be reached.
bool EnsureService(Client& client, WorkloadRecord& w, std::vector<std::string>* warnings,
                   std::string* error);

// Deletes the ServiceEntry when add-to-mesh created it and no other workload of the service is
// left in its namespace.
void DeleteServiceIfUnused(const WorkloadRecord& w);

}  // namespace weft::ctl
