// Listeners, filter chains and their network filters as the data path sees them: plain C++ built
// from envoy.config.listener.v3.Listener by proxy/config, immutable, shared by every worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "http/http2_options.h"
#include "network/cidr.h"
#include "proxy/filters/filter.h"
#include "proxy/filters/istio_stats.h"
#include "proxy/filters/rbac_engine.h"
#include "proxy/listener/dns_filter_config.h"
#include "proxy/router/route_config.h"

namespace weft::tls {
class TlsContext;
}

namespace weft::listener {

using Milliseconds = std::chrono::milliseconds;

// An access log sink (envoy.access_loggers.file / stdout / stderr) and its format.
struct AccessLogConfig {
  enum class Sink { kFile, kStdout, kStderr };
  Sink sink = Sink::kFile;
  std::string path;
  // Envoy substitution format; empty means Envoy's default format. For JSON logs, `json_format`
  // holds (key, format) pairs instead.
  std::string text_format;
  std::vector<std::pair<std::string, std::string>> json_format;
};

// envoy.config.core.v3.CidrRange, parsed once with the config.
using CidrRange = network::Cidr;

// envoy.config.listener.v3.FilterChainMatch.
struct FilterChainMatch {
  std::optional<uint32_t> destination_port;
  std::vector<CidrRange> prefix_ranges;  // destination IP
  std::vector<CidrRange> source_prefix_ranges;
  std::vector<uint32_t> source_ports;
  std::vector<std::string> server_names;           // SNI; "*.example.com" allowed
  std::string transport_protocol;                  // "" (any), "raw_buffer", "tls"
  std::vector<std::string> application_protocols;  // ALPN
  enum class SourceType { kAny, kSameIpOrLoopback, kExternal };
  SourceType source_type = SourceType::kAny;
};

// envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.
struct TcpProxyConfig {
  std::string stat_prefix;
  std::string cluster;
  std::vector<router::WeightedCluster> weighted_clusters;
  uint32_t total_weight = 0;
  Milliseconds idle_timeout{3600 * 1000};  // Envoy's default: 1h; 0 disables
  uint32_t max_connect_attempts = 1;
  std::vector<AccessLogConfig> access_logs;
};

// One body-rewriting rule of local_reply_config
// (envoy...http_connection_manager.v3.ResponseMapper).
struct LocalReplyMapper {
  // The filter: which local replies it applies to. Supported: status_code_filter and
  // header_filter (on the request headers), combined as configured.
  std::optional<uint32_t> status_code_equals;
  std::optional<router::HeaderMatcher> header_filter;
  std::optional<uint32_t> status_code;     // rewrite the status
  std::optional<std::string> body;         // replace the body (a format string)
  std::optional<std::string> body_format;  // body_format_override: text format
  std::string content_type;
};

struct LocalReplyConfig {
  std::vector<LocalReplyMapper> mappers;
  std::optional<std::string> body_format;  // text_format for every local reply
  std::string content_type;
};

// An entry of http_filters: the name, which filter it is, and (for every filter but the router,
// which is the stream's last step) the factory built from its typed_config.
struct HttpFilterConfig {
  std::string name;
  std::string type_url;  // the typed_config's @type, or "" when given by name only
  std::shared_ptr<const filters::FilterFactory> factory;  // null for envoy.filters.http.router
};

// envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.
struct HttpConnectionManagerConfig {
  enum class CodecType { kAuto, kHttp1, kHttp2 };
  CodecType codec_type = CodecType::kAuto;
  std::string stat_prefix;
  std::shared_ptr<const router::RouteConfiguration> route_config;  // inline route_config
  std::string rds_route_config_name;  // rds (dynamic); empty when inline
  std::vector<HttpFilterConfig> http_filters;
  std::vector<AccessLogConfig> access_logs;
  LocalReplyConfig local_reply;

  std::string server_name = "envoy";  // Envoy's default, kept for drop-in compatibility
  enum class ServerHeaderTransformation { kOverwrite, kAppendIfAbsent, kPassThrough };
  ServerHeaderTransformation server_header_transformation = ServerHeaderTransformation::kOverwrite;
  bool use_remote_address = false;
  uint32_t xff_num_trusted_hops = 0;
  bool generate_request_id = true;
  bool preserve_external_request_id = false;
  bool normalize_path = false;
  bool merge_slashes = false;

  // Timeouts (0 = disabled), with Envoy's defaults.
  Milliseconds idle_timeout{3600 * 1000};  // common_http_protocol_options.idle_timeout
  Milliseconds stream_idle_timeout{5 * 60 * 1000};
  Milliseconds request_timeout{0};
  Milliseconds request_headers_timeout{0};
  Milliseconds drain_timeout{5000};
  Milliseconds delayed_close_timeout{1000};
  std::optional<Milliseconds> max_connection_duration;

  // Limits.
  uint32_t max_request_headers_kb = 60;  // Envoy's default
  uint32_t max_headers_count = 100;      // common_http_protocol_options.max_headers_count
  uint32_t max_url_bytes = 8192;         // Weft's limit (Envoy relies on the header size limit)
  std::optional<uint32_t> max_requests_per_connection;
  bool allow_chunked_length = false;  // http_protocol_options: CL + TE tolerated if true
  http::Http2Options http2;           // http2_protocol_options
};

struct FilterChain {
  std::string name;
  FilterChainMatch match;
  // envoy.filters.network.rbac entries before the terminal filter, in order: each decides once,
  // when the connection starts, and a denial closes the connection.
  std::vector<std::shared_ptr<const rbac::RbacConfig>> network_rbacs;
  // istio.stats as a network filter before tcp_proxy: Istio's TCP metrics; null = none.
  std::shared_ptr<const filters::istio::IstioStatsConfig> istio_tcp_stats;
  // istio.metadata_exchange before tcp_proxy: the ALPN on which the downstream exchanges
  // workload metadata (Istio's istio-peer-exchange); "" = none.
  std::string metadata_exchange_protocol;
  // The terminal network filter (the chain's last): exactly one.
  std::variant<TcpProxyConfig, HttpConnectionManagerConfig> filter;
  // transport_socket envoy.transport_sockets.tls (DownstreamTlsContext); null = plaintext.
  std::shared_ptr<tls::TlsContext> tls;
  // Envoy's FilterChain.transport_socket_connect_timeout (listener_components.proto, field 9):
  // how long a connection may take to finish its transport socket's handshake before it is
  // closed and listener.<addr>.downstream_cx_transport_socket_connect_timeout counts it.
  // 0 = no limit, Envoy's default (the field unset or zero).
  Milliseconds transport_socket_connect_timeout{0};
};

struct ListenerConfig {
  std::string name;
  std::string address;  // IP literal
  uint32_t port = 0;
  std::vector<FilterChain> filter_chains;
  std::optional<FilterChain> default_filter_chain;
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  // Envoy keeps two things apart here. The listener filter envoy.filters.listener.original_dst
  // restores the destination an iptables REDIRECT rewrote (SO_ORIGINAL_DST) as the connection's
  // local address, for filter_chain_match.destination_port and ORIGINAL_DST clusters. The
  // Listener field use_original_dst does that too AND hands the connection to the listener of
  // that destination (listener_handoff.h). Istio's virtualOutbound sets the field; its
  // virtualInbound has only the filter, so an inbound connection is never handed to the
  // workload's own outbound 0.0.0.0_<port> listener.
  bool restore_original_dst = false;  // the filter, or use_original_dst
  bool use_original_dst = false;      // the hand-off
  bool tls_inspector = false;         // envoy.filters.listener.tls_inspector present
  bool http_inspector = false;        // envoy.filters.listener.http_inspector present
  // How long the listener filters (tls_inspector, http_inspector) wait for a connection's first
  // bytes; 0 = no limit. Envoy's Listener.listener_filters_timeout, default 15 s. On timeout the
  // connection is closed, or with continue_on_listener_filters_timeout given to the chain that
  // matches what is known (no TLS, no protocol).
  Milliseconds listener_filters_timeout{15000};
  bool continue_on_listener_filters_timeout = false;
  bool bind_to_port = true;
  bool freebind = false;
  uint32_t backlog = 1024;
  std::string stat_prefix;
  // address.socket_address.protocol UDP: no filter chains; the listener's UDP listener filter
  // (envoy.filters.udp.dns_filter, the only one Weft implements) serves its socket.
  bool udp = false;
  std::optional<DnsFilterConfig> dns_filter;  // set iff udp
};

}  // namespace weft::listener
