// What is installed and how it is: `weftctl version` (client, each control plane revision's
// GET /version, every connected proxy's version from /debug/proxies, like `istioctl version`)
// and `weftctl verify-install` (one line per check). Each returns the exit code.
#pragma once

#include <string>

namespace weft::ctl {

// `output` "" (text) or "json"; `short_form`: the summary lines only. `server` (--server or
// $WEFT_SERVER, "" if neither) is asked when it is given and no revision is: a weftd that
// weftctl did not install.
int Version(bool short_form, const std::string& output, const std::string& revision,
            const std::string& server);
// `revision` "": every installed revision.
int VerifyInstall(const std::string& revision);

}  // namespace weft::ctl
