// A listener prepared for the workers: its config plus, per filter chain, the immutable runtime
// of its terminal filter (HTTP connection manager or tcp_proxy). Built on the main thread.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/status.h"
#include "network/address.h"
#include "proxy/http/hcm_runtime.h"
#include "proxy/listener/listener_config.h"
#include "proxy/tcp/tcp_proxy.h"

namespace weft::proxy {

struct FilterChainRuntime {
  const listener::FilterChain* config = nullptr;
  std::shared_ptr<const HcmRuntime> hcm;       // set for http_connection_manager chains
  std::shared_ptr<const TcpProxyRuntime> tcp;  // set for tcp_proxy chains
};

struct ListenerRuntime {
  std::shared_ptr<const listener::ListenerConfig> config;
  network::Address address;
  std::string stat_prefix;  // "listener.<address>_<port>." as Envoy names it
  std::vector<FilterChainRuntime> chains;
  std::optional<FilterChainRuntime> default_chain;

  // The swappable table of an rds HCM's route_config_name (the Server's, shared by every
  // listener naming it). Without one, rds HCMs route by their config's route_config.
  using RdsLookup =
      std::function<std::shared_ptr<router::RdsRouteTable>(const std::string& route_config_name)>;

  static absl::StatusOr<std::shared_ptr<const ListenerRuntime>> Build(
      std::shared_ptr<const listener::ListenerConfig> config, const RdsLookup& rds = {});

  // Whether a new connection's first bytes must be inspected before a chain can be chosen:
  // the listener has the http_inspector and some chain matches on application_protocols.
  bool inspect_http = false;
  // The listener has envoy.filters.listener.tls_inspector: every connection's first bytes are
  // looked at for a ClientHello (as Envoy runs its listener filters on every connection).
  bool inspect_tls = false;

  // What the listener filters found out about a connection before a chain is chosen.
  struct DetectedFacts {
    // "tls" when the tls_inspector saw a ClientHello; anything else counts as "raw_buffer"
    // (Envoy sets that when no listener filter detected a transport protocol).
    std::string_view transport_protocol;
    std::string_view server_name;  // the ClientHello's SNI (lower case)
    // The ClientHello's ALPN list, or the http_inspector's one guess ("http/1.1", "h2c").
    std::vector<std::string_view> application_protocols;
  };

  // The filter chain for a new connection, or nullptr: Envoy's FilterChainMatch order
  // (destination port, destination IP, server name, transport protocol, application protocols,
  // source type, source IP, source port); at each level only the most specific value matching
  // the connection stays a candidate, and there is no backtracking to a less specific one when a
  // later level fails (as in Envoy's filter-chain tree). Then the default_filter_chain.
  const FilterChainRuntime* SelectChain(const network::Address& local,
                                        const network::Address& remote,
                                        const DetectedFacts& facts) const;
  // Plaintext without the tls_inspector: `application_protocol` is what the http_inspector
  // found ("http/1.1", "h2c", ...), if anything.
  const FilterChainRuntime* SelectChain(const network::Address& local,
                                        const network::Address& remote,
                                        std::string_view application_protocol = {}) const;
};

}  // namespace weft::proxy
