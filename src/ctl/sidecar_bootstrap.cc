#include "ctl/sidecar_bootstrap.h"

#include "ctl/weft_home.h"
#include "ctl/workload_identity.h"

namespace weft::ctl {

std::string SidecarNodeId(const WorkloadRecord& w) {
  return "sidecar~" + w.ip + "~" + w.name + "." + w.ns + "~" + w.ns + ".svc.cluster.local";
}

std::map<std::string, std::string> WorkloadLabels(const WorkloadRecord& w) {
  std::map<std::string, std::string> labels = w.labels;
  labels.emplace("app", w.service);  // a --label app=... wins
  if (!w.revision.empty() && w.revision != kDefaultRevision) {
    labels["istio.io/rev"] = w.revision;
  }
  return labels;
}

nlohmann::json SidecarBootstrap(const WorkloadRecord& w, const std::string& mesh_root_pem) {
  // POD_PORTS is a string holding a JSON array, as pilot-agent sends it.
  nlohmann::json pod_ports = nlohmann::json::array();
  for (const auto& p : w.ports) {
    pod_ports.push_back({{"name", p.name}, {"containerPort", p.AppPort()}, {"protocol", "TCP"}});
  }
  nlohmann::json metadata = {
      {"NAME", w.name},
      // Istio's workload (its Deployment's name; here the workload is its own instance): the
      // source_workload / destination_workload of Istio's standard metrics.
      {"WORKLOAD_NAME", w.name},
      {"NAMESPACE", w.ns},
      {"SERVICE_ACCOUNT", w.service_account},
      {"LABELS", WorkloadLabels(w)},
      {"INSTANCE_IPS", w.ip},
      {"POD_PORTS", pod_ports.dump()},
      {"INTERCEPTION_MODE", w.capture ? "REDIRECT" : "NONE"},
  };
  if (!w.capture) {
    metadata["WEFT_OUTBOUND_ADDRESS"] = w.outbound_ip;
    std::string upstreams;
    for (const auto& u : w.upstreams) {
      if (!upstreams.empty()) upstreams += ",";
      upstreams += u.service + ":" + std::to_string(u.port) + "=" + u.local_address;
    }
    if (!upstreams.empty()) metadata["WEFT_UPSTREAMS"] = upstreams;
  }
  std::string xds_host = w.xds_address.substr(0, w.xds_address.rfind(':'));
  int xds_port = std::stoi(w.xds_address.substr(w.xds_address.rfind(':') + 1));
  // With an identity: weftd's TLS port (the CA's, ca_address) on the host the sidecar already
  // reaches weftd at; the certificate is checked for kCaHostName, which weftd's carries.
  const bool tls = !w.ca_address.empty() && !mesh_root_pem.empty();
  nlohmann::json xds_cluster = {{"name", "xds"}, {"type", "STATIC"}, {"connect_timeout", "1s"}};
  if (tls) {
    xds_port = std::stoi(w.ca_address.substr(w.ca_address.rfind(':') + 1));
    xds_cluster["transport_socket"] = {
        {"name", "envoy.transport_sockets.tls"},
        {"typed_config",
         {{"@type",
           "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"},
          {"sni", kCaHostName},
          {"common_tls_context",
           {{"validation_context", {{"trusted_ca", {{"inline_string", mesh_root_pem}}}}}}}}}};
  }
  nlohmann::json xds_endpoint = {
      {"endpoint",
       {{"address", {{"socket_address", {{"address", xds_host}, {"port_value", xds_port}}}}}}}};
  nlohmann::json ads = {{"ads", nlohmann::json::object()}, {"resource_api_version", "V3"}};
  xds_cluster["load_assignment"] = {{"cluster_name", "xds"},
                                    {"endpoints", {{{"lb_endpoints", {xds_endpoint}}}}}};
  return {
      {"node",
       {{"id", SidecarNodeId(w)}, {"cluster", w.service + "." + w.ns}, {"metadata", metadata}}},
      {"admin",
       {{"address",
         {{"socket_address", {{"address", "127.0.0.1"}, {"port_value", w.admin_port}}}}}}},
      {"dynamic_resources",
       {{"ads_config",
         {{"api_type", "GRPC"},
          {"transport_api_version", "V3"},
          {"grpc_services", {{{"envoy_grpc", {{"cluster_name", "xds"}}}}}}}},
        {"cds_config", ads},
        {"lds_config", ads}}},
      {"static_resources", {{"clusters", {xds_cluster}}}},
  };
}

}  // namespace weft::ctl
