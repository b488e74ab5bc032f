#include "proxy/cluster_manager/upstream_transport.h"

namespace weft::cluster {

int SelectTransportSocketMatch(const upstream::ClusterConfig& config,
                               const upstream::TransportSocketMatchMetadata& endpoint_metadata) {
  for (size_t i = 0; i < config.transport_socket_matches.size(); ++i) {
    bool all_equal = true;
    for (const auto& [field, value] : config.transport_socket_matches[i].match) {
      auto it = endpoint_metadata.find(field);
      if (it == endpoint_metadata.end() || it->second != value) {
        all_equal = false;
        break;
      }
    }
    if (all_equal) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace weft::cluster
