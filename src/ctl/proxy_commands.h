// weftctl proxy-status / proxy-config: what weftd sent each proxy and what the proxy answered,
// from weftd's debug API (control/api/debug_api.h), like istioctl's commands of the same names.
#pragma once

#include <string>

#include "ctl/client.h"

namespace weft::ctl {

// Without a proxy: one row per connected proxy. With one (a node id or its unique prefix): every
// detail, NACK errors and translation warnings. `output` "" or "json".
int ProxyStatus(Client& client, const std::string& proxy, const std::string& output);

// `type`: clusters, listeners, routes or endpoints; `output`: short (a table), json or yaml.
int ProxyConfig(Client& client, const std::string& type, const std::string& proxy,
                const std::string& output);

}  // namespace weft::ctl
