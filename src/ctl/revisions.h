// Which weftd a weftctl command talks to, and the installed revisions.
//
// Weft on a plain host has no Kubernetes API server that every control plane watches: each
// weftd keeps its own store. So that two revisions side by side (a canary upgrade) serve the
// same config, `weftctl install --revision R` imports the default revision's resources, and
// apply/delete without an explicit server write to EVERY installed revision (see
// docs/user-guide/install.md, "Canary upgrades").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ctl/client.h"

namespace weft::ctl {

// Revisions with an install.json under <home>/control-planes, "default" first, then by name.
std::vector<std::string> InstalledRevisions();

// The contract's order: `flag_server` (when given), else $WEFT_SERVER, else the apiAddress of
// the install record of `revision` ("" = default), else http://127.0.0.1:15080.
std::string ResolveServer(const std::string& flag_server, const std::string& revision);

// Whether apply/delete go to every installed revision: several installed, and no --server,
// $WEFT_SERVER or --revision naming one.
bool WritesToEveryRevision(const std::string& flag_server, const std::string& revision);

// Runs a writing verb (apply, delete) against every installed revision when there are several
// and no server was named; else against the resolved one. The first revision's output is printed
// as it is; another's only when it differs (prefixed "revision R:"), so that a user sees where
// the revisions disagree. Returns the worst exit code.
int ForEachWriteTarget(const std::string& flag_server, const std::string& revision,
                       const std::function<int(Client&)>& verb);

// ForEachWriteTarget for a verb that reads manifests from `source` (a file, a directory or "-"):
// when it goes to several revisions, stdin is read once, into a temporary file every revision
// reads (and that is removed after), so that each gets the same manifests.
int ForEachWriteTargetReading(const std::string& flag_server, const std::string& revision,
                              const std::string& source,
                              const std::function<int(Client&, const std::string& source)>& verb);

// Workloads (<home>/workloads/*/workload.json) whose "revision" is `revision` (absent: default).
std::vector<std::string> WorkloadsUsing(const std::string& revision);

}  // namespace weft::ctl
