// What `weftctl proxy-status` and `proxy-config ... -o short` print, from the JSON of weftd's
// debug API (control/api/debug_api.h): tables shaped like istioctl's. Pure functions, so they are
// unit-tested without a server.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ctl/output.h"

namespace weft::ctl {

// The node id a PROXY argument names, like istioctl accepts a pod name: the id itself, else the
// one id it is a prefix of, else the one id whose pod part (Istio's `type~ip~pod.ns~domain`) it
// is a prefix of. `error` says why nothing was chosen (not found, or ambiguous with the
// candidates).
struct ProxyChoice {
  std::string node_id;
  std::string error;
};
ProxyChoice ResolveProxy(const std::vector<std::string>& node_ids, const std::string& arg);

// NAME NAMESPACE IP CDS LDS EDS RDS WEFTD, one row per proxy with an open stream.
Table ProxyStatusTable(const nlohmann::json& debug_proxies);
// The errors behind the table's NACKED cells, one line per proxy and type ("" when none):
// "NACK errors:\n<node id> LDS: <the proxy's error_detail.message>\n".
std::string NackErrors(const nlohmann::json& debug_proxies);
// Every field of one proxy's status, NACK errors and translation warnings included.
std::string ProxyStatusDetails(const nlohmann::json& proxy);

// Istio's cluster naming: "outbound|9080|v1|reviews.default.svc.cluster.local".
struct ClusterName {
  std::string direction, port, subset, fqdn;
};
ClusterName ParseClusterName(const std::string& name);

// SERVICE FQDN  PORT  SUBSET  DIRECTION  TYPE
Table ClustersTable(const nlohmann::json& clusters);
// ADDRESS  PORT  MATCH  DESTINATION, one row per filter chain.
Table ListenersTable(const nlohmann::json& listeners);
// NAME  VHOST NAME  DOMAINS  MATCH  VIRTUAL SERVICE, one row per route. `virtual_services` is
// the resource API's list of VirtualServices (all namespaces), to name the one a virtual host
// came from ("reviews.default"); null leaves the column "-".
Table RoutesTable(const nlohmann::json& route_configs, const nlohmann::json& virtual_services);
// ENDPOINT  STATUS  CLUSTER
Table EndpointsTable(const nlohmann::json& load_assignments);

}  // namespace weft::ctl
