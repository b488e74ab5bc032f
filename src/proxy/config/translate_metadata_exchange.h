// Istio's TCP metadata exchange filter config (`istio.metadata_exchange`, istio/proxy
// source/extensions/filters/network/metadata_exchange/config/metadata_exchange.proto, message
// envoy.tcp.metadataexchange.config.MetadataExchange) -> the ALPN protocol it runs on.
//
// Istio's weftd-equivalent (pilot, pkg/networking/core xdsfilters.TCPListenerMx and
// TCPClusterMx) writes it as a listener filter on inbound chains and as a cluster filter
// (Cluster.filters) on outbound clusters, in an xds.type.v3.TypedStruct with the fields
// `protocol: istio-peer-exchange` and `enable_discovery: true`; older pilots wrote the bare
// message. Both forms are read. `enable_discovery` (look the peer up in Istio's workload
// discovery when it sends no metadata) is accepted and has no effect: weft-proxy has no
// workload discovery, so such a peer stays "unknown". Other fields are refused with their path.
#pragma once

#include <google/protobuf/any.pb.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::config {

inline constexpr std::string_view kMetadataExchangeType =
    "envoy.tcp.metadataexchange.config.MetadataExchange";

// The `protocol` (the ALPN on which the exchange runs); refused when empty.
absl::StatusOr<std::string> TranslateMetadataExchange(const google::protobuf::Any* typed_config,
                                                      std::string_view path);

}  // namespace weft::config
