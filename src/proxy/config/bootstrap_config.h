// The whole static configuration of one weft-proxy: what envoy.config.bootstrap.v3.Bootstrap
// becomes after validation. Built by bootstrap_loader, owned by the main thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/listener/listener_config.h"
#include "proxy/upstream/cluster_config.h"

namespace weft::config {

struct AdminConfig {
  bool enabled = false;
  std::string address = "127.0.0.1";
  uint32_t port = 0;  // 0 with enabled = pick one (tests read it from --admin-address-path)
  std::vector<listener::AccessLogConfig> access_logs;
};

struct NodeConfig {
  std::string id;
  std::string cluster;
  std::map<std::string, std::string> metadata;  // flat string metadata (nested values as JSON)
  std::string locality_region, locality_zone, locality_sub_zone;
};

// dynamic_resources: where the ADS stream goes. Only ADS over gRPC (state of the world) is
// supported; lds_config and cds_config must say `ads: {}`.
struct XdsConfig {
  bool enabled = false;
  std::string target;  // gRPC target: "ip:port" of the envoy_grpc cluster, or google_grpc's URI
  bool lds = false;    // lds_config present: listeners come from the server
  bool cds = false;    // cds_config present: clusters come from the server
  bool delta = false;  // ads_config.api_type DELTA_GRPC: DeltaAggregatedResources, not SotW
  std::string node_metadata_json;  // node.metadata (a Struct) as JSON, sent with the node
  // The ADS cluster's transport_socket (an UpstreamTlsContext): TLS to the xDS server, verified
  // against `tls_root_pem` (validation_context.trusted_ca), with `tls_sni` as the name checked
  // (the certificate's SAN) when set; a static client certificate is presented if one is set.
  bool tls = false;
  std::string tls_root_pem, tls_sni, tls_cert_chain_pem, tls_private_key_pem;
  // weft-proxy's --ca-token-file (set by main, not by the bootstrap): on a TLS stream, its
  // token goes in `authorization: Bearer <token>`, re-read at each stream start.
  std::string token_path;
};

struct BootstrapConfig {
  NodeConfig node;
  XdsConfig xds;
  AdminConfig admin;
  std::vector<listener::ListenerConfig> listeners;
  std::vector<std::shared_ptr<const upstream::ClusterConfig>> clusters;
  // The source as the user wrote it, converted to JSON, for /config_dump.
  std::string config_dump_json;
};

}  // namespace weft::config
