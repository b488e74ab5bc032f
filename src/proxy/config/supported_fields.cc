#include "proxy/config/supported_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_split.h"
#include "proxy/config/known_extensions.h"
#include "proxy/config/text.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

namespace pb = google::protobuf;

// Messages not listed here support no field at all. google.protobuf.* value types (Duration,
// wrappers, Struct) are leaves and always accepted; Any is unpacked.
constexpr SupportedFields kTable[] = {
    // Bootstrap.
    {"envoy.config.bootstrap.v3.Bootstrap", "node static_resources dynamic_resources admin"},
    // xDS: one ADS stream (ads_config) carries LDS and CDS (and the EDS and RDS they name).
    {"envoy.config.bootstrap.v3.Bootstrap.DynamicResources", "lds_config cds_config ads_config"},
    {"envoy.config.core.v3.ApiConfigSource",
     "api_type transport_api_version grpc_services set_node_on_first_message_only"},
    {"envoy.config.core.v3.GrpcService", "envoy_grpc google_grpc timeout"},
    {"envoy.config.core.v3.GrpcService.EnvoyGrpc", "cluster_name authority"},
    {"envoy.config.core.v3.GrpcService.GoogleGrpc", "target_uri stat_prefix"},
    {"envoy.config.bootstrap.v3.Bootstrap.StaticResources", "listeners clusters"},
    {"envoy.config.bootstrap.v3.Admin", "address access_log access_log_path"},
    {"envoy.config.core.v3.Node", "id cluster metadata locality"},
    {"envoy.config.core.v3.Locality", "region zone sub_zone"},
    {"envoy.config.core.v3.Address", "socket_address"},
    // `protocol` must be TCP, or UDP for a listener (checked when translated).
    {"envoy.config.core.v3.SocketAddress", "protocol address port_value"},
    {"envoy.config.core.v3.CidrRange", "address_prefix prefix_len"},
    {"envoy.config.core.v3.TypedExtensionConfig", "name typed_config"},
    {"envoy.config.core.v3.DataSource", "filename inline_string inline_bytes"},
    {"envoy.config.core.v3.SubstitutionFormatString",
     "text_format json_format text_format_source content_type"},
    // Shared by HCM (all four) and clusters (idle_timeout, max_requests_per_connection; the
    // cluster translation refuses the other two).
    {"envoy.config.core.v3.HttpProtocolOptions",
     "idle_timeout max_headers_count max_connection_duration max_requests_per_connection"},
    // HCM only; the cluster translation refuses it.
    {"envoy.config.core.v3.Http1ProtocolOptions", "allow_chunked_length"},
    // Listener (http2_protocol_options on the HCM) and cluster alike.
    {"envoy.config.core.v3.Http2ProtocolOptions",
     "hpack_table_size max_concurrent_streams initial_stream_window_size "
     "initial_connection_window_size"},
    {"envoy.config.core.v3.HeaderValueOption", "header append append_action keep_empty_value"},
    {"envoy.config.core.v3.HeaderValue", "key value"},
    // runtime_key is required by Envoy's schema; Weft has no runtime, so only default_value counts.
    {"envoy.config.core.v3.RuntimeUInt32", "default_value runtime_key"},

    // Listeners.
    {"envoy.config.listener.v3.Listener",
     "name address filter_chains default_filter_chain listener_filters "
     "per_connection_buffer_limit_bytes use_original_dst stat_prefix bind_to_port freebind "
     "tcp_backlog_size udp_listener_config listener_filters_timeout "
     "continue_on_listener_filters_timeout traffic_direction"},
    // A UDP listener's own settings: Weft has none to tune (an empty message is accepted).
    {"envoy.config.listener.v3.UdpListenerConfig", ""},
    {"envoy.config.listener.v3.FilterChain",
     "name filter_chain_match filters transport_socket transport_socket_connect_timeout"},
    // TLS (translate_tls.cc).
    {"envoy.config.core.v3.TransportSocket", "name typed_config"},
    {"envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
     "common_tls_context require_client_certificate"},
    {"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "common_tls_context sni"},
    {"envoy.extensions.transport_sockets.tls.v3.CommonTlsContext",
     "tls_params tls_certificates tls_certificate_sds_secret_configs validation_context "
     "validation_context_sds_secret_config combined_validation_context alpn_protocols"},
    {"envoy.extensions.transport_sockets.tls.v3.CommonTlsContext."
     "CombinedCertificateValidationContext",
     "default_validation_context validation_context_sds_secret_config"},
    {"envoy.extensions.transport_sockets.tls.v3.TlsCertificate", "certificate_chain private_key"},
    {"envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext",
     "trusted_ca match_typed_subject_alt_names match_subject_alt_names trust_chain_verification"},
    {"envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher", "san_type matcher"},
    {"envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig", "name sds_config"},
    // An SDS resource from ADS (DestinationRule credentialName; TranslateSecret).
    {"envoy.extensions.transport_sockets.tls.v3.Secret", "name tls_certificate validation_context"},
    {"envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", ""},
    {"envoy.extensions.transport_sockets.tls.v3.TlsParameters",
     "tls_minimum_protocol_version tls_maximum_protocol_version cipher_suites ecdh_curves"},
    {"envoy.config.listener.v3.FilterChainMatch",
     "destination_port prefix_ranges source_type source_prefix_ranges source_ports server_names "
     "transport_protocol application_protocols"},
    {"envoy.config.listener.v3.Filter", "name typed_config"},
    {"envoy.config.listener.v3.ListenerFilter", "name typed_config"},
    {"envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector", ""},
    {"envoy.extensions.filters.listener.original_dst.v3.OriginalDst", ""},
    {"envoy.extensions.filters.listener.http_inspector.v3.HttpInspector", ""},
    // UDP listener filters: the DNS filter (translate_dns_filter.cc).
    {"envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig",
     "stat_prefix server_config client_config"},
    {"envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig.ServerContextConfig",
     "inline_dns_table"},
    {"envoy.extensions.filters.udp.dns_filter.v3.DnsFilterConfig.ClientContextConfig",
     "resolver_timeout upstream_resolvers max_pending_lookups"},
    {"envoy.data.dns.v3.DnsTable", "virtual_domains known_suffixes"},
    {"envoy.data.dns.v3.DnsTable.DnsVirtualDomain", "name endpoint answer_ttl"},
    {"envoy.data.dns.v3.DnsTable.DnsEndpoint", "address_list"},
    {"envoy.data.dns.v3.DnsTable.AddressList", "address"},

    // Network filters.
    {"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
     "codec_type stat_prefix route_config rds http_filters access_log local_reply_config "
     "server_name server_header_transformation use_remote_address xff_num_trusted_hops "
     "generate_request_id preserve_external_request_id normalize_path merge_slashes "
     "common_http_protocol_options http_protocol_options http2_protocol_options "
     "stream_idle_timeout request_timeout "
     "request_headers_timeout drain_timeout delayed_close_timeout max_request_headers_kb"},
    // rds: the routes come over ADS (bootstrap dynamic_resources.ads_config).
    {"envoy.extensions.filters.network.http_connection_manager.v3.Rds",
     "config_source route_config_name"},
    // api_config_source and initial_fetch_timeout: Istio's SDS form (translate_tls.cc), where
    // initial_fetch_timeout bounds listener warming; rds and eds config sources still require
    // ads (and wait for their first response without a limit).
    {"envoy.config.core.v3.ConfigSource",
     "ads resource_api_version api_config_source initial_fetch_timeout"},
    {"envoy.config.core.v3.AggregatedConfigSource", ""},
    {"envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", "name typed_config"},
    {"envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig",
     "mappers body_format"},
    {"envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper",
     "filter status_code body body_format_override"},
    {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
     "stat_prefix cluster weighted_clusters idle_timeout max_connect_attempts access_log"},
    {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster", "clusters"},
    {"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight",
     "name weight"},

    // HTTP filters.
    {"envoy.extensions.filters.http.router.v3.Router", ""},
    {"envoy.extensions.filters.http.fault.v3.HTTPFault",
     "delay abort upstream_cluster headers downstream_nodes max_active_faults"},
    {"envoy.extensions.filters.http.fault.v3.FaultAbort",
     "http_status grpc_status header_abort percentage"},
    {"envoy.extensions.filters.http.fault.v3.FaultAbort.HeaderAbort", ""},
    {"envoy.extensions.filters.common.fault.v3.FaultDelay", "fixed_delay header_delay percentage"},
    {"envoy.extensions.filters.common.fault.v3.FaultDelay.HeaderDelay", ""},
    {"envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
     "stat_prefix status token_bucket filter_enabled filter_enforced response_headers_to_add "
     "request_headers_to_add_when_not_enforced rate_limited_as_resource_exhausted"},
    // CORS: the filter's own config is empty; policies come from the routes.
    {"envoy.extensions.filters.http.cors.v3.Cors", ""},
    {"envoy.extensions.filters.http.cors.v3.CorsPolicy",
     "allow_origin_string_match allow_methods allow_headers expose_headers max_age "
     "allow_credentials filter_enabled shadow_enabled allow_private_network_access "
     "forward_not_matching_preflights"},
    // JWT authentication (translate_jwt_authn.cc). Rules match by RouteMatch prefix or path only
    // (the translator refuses the other RouteMatch fields).
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication", "providers rules"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtProvider",
     "issuer audiences local_jwks remote_jwks forward from_headers from_params "
     "forward_payload_header "
     "payload_in_metadata clock_skew_seconds claim_to_headers"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtHeader", "name value_prefix"},
    {"envoy.extensions.filters.http.jwt_authn.v3.RemoteJwks", "http_uri cache_duration"},
    {"envoy.config.core.v3.HttpUri", "uri cluster timeout"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtClaimToHeader", "header_name claim_name"},
    {"envoy.extensions.filters.http.jwt_authn.v3.RequirementRule", "match requires"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement",
     "provider_name provider_and_audiences requires_any requires_all allow_missing_or_failed "
     "allow_missing"},
    {"envoy.extensions.filters.http.jwt_authn.v3.ProviderWithAudiences", "provider_name audiences"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtRequirementOrList", "requirements"},
    {"envoy.extensions.filters.http.jwt_authn.v3.JwtRequirementAndList", "requirements"},
    {"envoy.type.v3.TokenBucket", "max_tokens tokens_per_fill fill_interval"},
    // RBAC (HTTP and network filters; envoy/config/rbac/v3/rbac.proto). Not evaluated, so
    // refused: Policy.condition / checked_condition (CEL), the matcher / shadow_matcher trees,
    // RBAC.audit_logging_options, Permission.matcher / uri_template, Principal.filter_state;
    // ValueMatcher kinds other than string_match / list_match / present_match (translate_rbac.cc).
    {"envoy.extensions.filters.http.rbac.v3.RBAC",
     "rules shadow_rules rules_stat_prefix shadow_rules_stat_prefix"},
    {"envoy.extensions.filters.http.rbac.v3.RBACPerRoute", "rbac"},
    {"envoy.extensions.filters.network.rbac.v3.RBAC",
     "rules shadow_rules stat_prefix shadow_rules_stat_prefix enforcement_type"},
    {"envoy.config.rbac.v3.RBAC", "action policies"},
    {"envoy.config.rbac.v3.Policy", "permissions principals"},
    {"envoy.config.rbac.v3.Permission",
     "and_rules or_rules any header url_path destination_ip destination_port "
     "destination_port_range metadata not_rule requested_server_name"},
    {"envoy.config.rbac.v3.Permission.Set", "rules"},
    {"envoy.config.rbac.v3.Principal",
     "and_ids or_ids any authenticated source_ip direct_remote_ip remote_ip header url_path "
     "metadata not_id"},
    {"envoy.config.rbac.v3.Principal.Set", "ids"},
    {"envoy.config.rbac.v3.Principal.Authenticated", "principal_name"},
    {"envoy.type.matcher.v3.PathMatcher", "path"},
    {"envoy.type.matcher.v3.MetadataMatcher", "filter path value invert"},
    {"envoy.type.matcher.v3.MetadataMatcher.PathSegment", "key"},
    {"envoy.type.matcher.v3.ValueMatcher", "string_match list_match present_match"},
    {"envoy.type.matcher.v3.ListMatcher", "one_of"},
    {"envoy.type.v3.Int32Range", "start end"},
    {"envoy.type.v3.HttpStatus", "code"},

    // Access logs.
    {"envoy.config.accesslog.v3.AccessLog", "name typed_config"},
    {"envoy.extensions.access_loggers.file.v3.FileAccessLog", "path format json_format log_format"},
    {"envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", "log_format"},
    {"envoy.extensions.access_loggers.stream.v3.StderrAccessLog", "log_format"},
    // local_reply_config mapper filters.
    {"envoy.config.accesslog.v3.AccessLogFilter", "status_code_filter header_filter"},
    {"envoy.config.accesslog.v3.StatusCodeFilter", "comparison"},
    {"envoy.config.accesslog.v3.ComparisonFilter", "op value"},
    {"envoy.config.accesslog.v3.HeaderFilter", "header"},

    // Routes.
    {"envoy.config.route.v3.RouteConfiguration",
     "name virtual_hosts internal_only_headers request_headers_to_add request_headers_to_remove "
     "response_headers_to_add response_headers_to_remove"},
    {"envoy.config.route.v3.VirtualHost",
     "name domains routes require_tls request_headers_to_add request_headers_to_remove "
     "response_headers_to_add response_headers_to_remove typed_per_filter_config retry_policy "
     "include_request_attempt_count include_attempt_count_in_response cors"},
    {"envoy.config.route.v3.Route",
     "name match route redirect direct_response request_headers_to_add request_headers_to_remove "
     "response_headers_to_add response_headers_to_remove typed_per_filter_config"},
    {"envoy.config.route.v3.RouteMatch",
     "prefix path safe_regex path_separated_prefix case_sensitive headers query_parameters"},
    {"envoy.config.route.v3.HeaderMatcher",
     "name exact_match safe_regex_match present_match prefix_match suffix_match contains_match "
     "string_match invert_match treat_missing_header_as_empty"},
    {"envoy.config.route.v3.QueryParameterMatcher", "name string_match present_match"},
    {"envoy.type.matcher.v3.StringMatcher", "exact prefix suffix safe_regex contains ignore_case"},
    {"envoy.type.matcher.v3.RegexMatcher", "google_re2 regex"},
    {"envoy.type.matcher.v3.RegexMatcher.GoogleRE2", ""},
    {"envoy.type.matcher.v3.RegexMatchAndSubstitute", "pattern substitution"},
    {"envoy.config.route.v3.RouteAction",
     "cluster cluster_header weighted_clusters prefix_rewrite regex_rewrite host_rewrite_literal "
     "auto_host_rewrite host_rewrite_header host_rewrite_path_regex timeout idle_timeout "
     "hash_policy retry_policy request_mirror_policies max_stream_duration max_grpc_timeout "
     "grpc_timeout_offset cors"},
    // The deprecated RouteAction.cors / VirtualHost.cors (the cors filter's CorsPolicy fields).
    {"envoy.config.route.v3.CorsPolicy",
     "allow_origin_string_match allow_methods allow_headers expose_headers max_age "
     "allow_credentials filter_enabled shadow_enabled allow_private_network_access "
     "forward_not_matching_preflights"},
    {"envoy.config.route.v3.RetryPolicy",
     "retry_on num_retries per_try_timeout retry_host_predicate host_selection_retry_max_attempts "
     "retriable_status_codes retry_back_off retriable_headers retriable_request_headers"},
    {"envoy.config.route.v3.RetryPolicy.RetryBackOff", "base_interval max_interval"},
    {"envoy.config.route.v3.RetryPolicy.RetryHostPredicate", "name typed_config"},
    {"envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate", ""},
    {"envoy.config.route.v3.RouteAction.RequestMirrorPolicy",
     "cluster runtime_fraction trace_sampled disable_shadow_host_suffix_append"},
    {"envoy.config.route.v3.RouteAction.MaxStreamDuration",
     "max_stream_duration grpc_timeout_header_max grpc_timeout_header_offset"},
    // runtime_key names a runtime override, which Weft does not have: the default is used.
    {"envoy.config.core.v3.RuntimeFractionalPercent", "default_value runtime_key"},
    {"envoy.type.v3.FractionalPercent", "numerator denominator"},
    {"envoy.config.route.v3.WeightedCluster", "clusters total_weight"},
    {"envoy.config.route.v3.WeightedCluster.ClusterWeight",
     "name weight request_headers_to_add request_headers_to_remove response_headers_to_add "
     "response_headers_to_remove"},
    {"envoy.config.route.v3.RouteAction.HashPolicy",
     "header cookie connection_properties query_parameter filter_state terminal"},
    {"envoy.config.route.v3.RouteAction.HashPolicy.Header", "header_name"},
    {"envoy.config.route.v3.RouteAction.HashPolicy.Cookie", "name ttl path"},
    {"envoy.config.route.v3.RouteAction.HashPolicy.ConnectionProperties", "source_ip"},
    {"envoy.config.route.v3.RouteAction.HashPolicy.QueryParameter", "name"},
    {"envoy.config.route.v3.RouteAction.HashPolicy.FilterState", "key"},
    {"envoy.config.route.v3.RedirectAction",
     "https_redirect scheme_redirect host_redirect port_redirect path_redirect prefix_rewrite "
     "regex_rewrite response_code strip_query"},
    {"envoy.config.route.v3.DirectResponseAction", "status body"},

    // Clusters.
    {"envoy.config.cluster.v3.Cluster",
     "name alt_stat_name type lb_policy load_assignment connect_timeout dns_refresh_rate "
     "respect_dns_ttl dns_lookup_family dns_resolvers typed_dns_resolver_config "
     "ring_hash_lb_config maglev_lb_config least_request_lb_config "
     "per_connection_buffer_limit_bytes max_requests_per_connection common_http_protocol_options "
     "typed_extension_protocol_options http2_protocol_options original_dst_lb_config "
     "circuit_breakers health_checks outlier_detection load_balancing_policy common_lb_config "
     "eds_cluster_config transport_socket transport_socket_matches filters"},
    {"envoy.config.cluster.v3.Filter", "name typed_config"},
    {"envoy.config.cluster.v3.Cluster.TransportSocketMatch", "name match transport_socket"},
    {"envoy.config.cluster.v3.Cluster.EdsClusterConfig", "eds_config service_name"},
    {"envoy.config.cluster.v3.CircuitBreakers", "thresholds"},
    // priority must be DEFAULT (checked when translated): routes here have no priority.
    {"envoy.config.cluster.v3.CircuitBreakers.Thresholds",
     "priority max_connections max_pending_requests max_requests max_retries retry_budget"},
    {"envoy.config.cluster.v3.CircuitBreakers.Thresholds.RetryBudget",
     "budget_percent min_retry_concurrency"},
    {"envoy.type.v3.Percent", "value"},
    {"envoy.config.cluster.v3.Cluster.CommonLbConfig",
     "healthy_panic_threshold locality_weighted_lb_config"},
    // Active health checking: HTTP, gRPC and TCP (custom_health_check, no_traffic_interval and
    // the event log fields are refused).
    {"envoy.config.core.v3.HealthCheck",
     "timeout interval initial_jitter interval_jitter interval_jitter_percent unhealthy_threshold "
     "healthy_threshold reuse_connection http_health_check tcp_health_check grpc_health_check "
     "unhealthy_interval unhealthy_edge_interval healthy_edge_interval"},
    {"envoy.config.core.v3.HealthCheck.GrpcHealthCheck", "service_name authority initial_metadata"},
    {"envoy.config.core.v3.HealthCheck.HttpHealthCheck",
     "host path request_headers_to_add expected_statuses"},
    {"envoy.config.core.v3.HealthCheck.TcpHealthCheck", "send receive"},
    {"envoy.config.core.v3.HealthCheck.Payload", "text binary"},
    {"envoy.type.v3.Int64Range", "start end"},
    {"envoy.config.cluster.v3.OutlierDetection",
     "consecutive_5xx interval base_ejection_time max_ejection_percent enforcing_consecutive_5xx "
     "enforcing_success_rate success_rate_minimum_hosts success_rate_request_volume "
     "success_rate_stdev_factor consecutive_gateway_failure enforcing_consecutive_gateway_failure "
     "split_external_local_origin_errors consecutive_local_origin_failure "
     "enforcing_consecutive_local_origin_failure enforcing_local_origin_success_rate "
     "failure_percentage_threshold enforcing_failure_percentage "
     "enforcing_failure_percentage_local_origin failure_percentage_minimum_hosts "
     "failure_percentage_request_volume max_ejection_time "
     "successful_active_health_check_uneject_host always_eject_one_host"},
    // Cluster.load_balancing_policy's entries are checked by translate_lb_policy.cc, which skips
    // the policies Weft lacks (kCheckedByTranslator); these are the policies it implements.
    {"envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin", "locality_lb_config"},
    {"envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest",
     "choice_count locality_lb_config"},
    {"envoy.extensions.load_balancing_policies.random.v3.Random", "locality_lb_config"},
    {"envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash",
     "minimum_ring_size maximum_ring_size"},
    {"envoy.extensions.load_balancing_policies.maglev.v3.Maglev", "table_size"},
    {"envoy.extensions.load_balancing_policies.common.v3.LocalityLbConfig",
     "locality_weighted_lb_config"},
    {"envoy.config.cluster.v3.Cluster.RingHashLbConfig", "minimum_ring_size maximum_ring_size"},
    {"envoy.config.cluster.v3.Cluster.MaglevLbConfig", "table_size"},
    {"envoy.config.cluster.v3.Cluster.LeastRequestLbConfig", "choice_count"},
    {"envoy.config.cluster.v3.Cluster.OriginalDstLbConfig", "use_http_header http_header_name"},
    {"envoy.config.endpoint.v3.ClusterLoadAssignment", "cluster_name endpoints policy"},
    {"envoy.config.endpoint.v3.ClusterLoadAssignment.Policy", "overprovisioning_factor"},
    {"envoy.config.endpoint.v3.LocalityLbEndpoints",
     "locality lb_endpoints load_balancing_weight priority"},
    {"envoy.config.endpoint.v3.LbEndpoint", "endpoint load_balancing_weight metadata"},
    // Endpoint metadata: "envoy.transport_socket_match" picks the transport socket; other
    // filters' entries are carried by Envoy for filters weft-proxy does not run, so accepted.
    {"envoy.config.core.v3.Metadata", "filter_metadata"},
    {"envoy.config.endpoint.v3.Endpoint", "address hostname"},
    {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
     "common_http_protocol_options explicit_http_config use_downstream_protocol_config"},
    {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig",
     "http_protocol_options http2_protocol_options"},
    {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions.UseDownstreamHttpConfig",
     "http_protocol_options http2_protocol_options"},
    {"envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig", "resolvers"},
};

// Fields accepted here but not walked: their translator checks them, because Envoy gives them
// semantics a plain walk cannot express (load_balancing_policy: "stop at the first policy it
// supports", so the policies after the chosen one, possibly unknown to Weft, are not looked at).
constexpr SupportedFields kCheckedByTranslator[] = {
    {"envoy.config.cluster.v3.Cluster", "load_balancing_policy"},
};

bool CheckedByTranslator(std::string_view message, std::string_view field) {
  for (const SupportedFields& entry : kCheckedByTranslator) {
    if (entry.message == message && entry.fields == field) return true;
  }
  return false;
}

using FieldSet = absl::flat_hash_set<std::string_view>;

const absl::flat_hash_map<std::string_view, FieldSet>& Index() {
  static const auto* index = [] {
    auto* m = new absl::flat_hash_map<std::string_view, FieldSet>();
    for (const SupportedFields& entry : kTable) {
      FieldSet& set = (*m)[entry.message];
      const absl::string_view fields(entry.fields.data(), entry.fields.size());
      for (absl::string_view f : absl::StrSplit(fields, ' ', absl::SkipEmpty())) {
        set.insert(std::string_view(f.data(), f.size()));
      }
    }
    return m;
  }();
  return *index;
}

std::string Join(std::string_view path, std::string_view field) {
  return path.empty() ? std::string(field) : Cat(path, ".", field);
}

absl::Status Walk(const pb::Message& message, const std::string& path);

// A known extension whose message Weft has no proto for (Istio's stats.PluginConfig), bare or
// in a TypedStruct: the extension's translator reads the Struct and refuses unknown fields.
google::protobuf::Any AsAny(const pb::Message& any_message) {
  google::protobuf::Any any;
  any.ParseFromString(any_message.SerializeAsString());
  return any;
}

bool WrapsExtensionWithoutProto(const pb::Message& any_message) {
  const google::protobuf::Any any = AsAny(any_message);
  std::string type = TypedStructInnerType(any);
  if (type.empty()) type = std::string(TypeNameFromUrl(any.type_url()));
  return FindExtensionByType(type) != nullptr &&
         pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type) == nullptr;
}

absl::Status WalkAny(const pb::Message& any, const std::string& path) {
  const pb::Reflection* refl = any.GetReflection();
  const pb::Descriptor* desc = any.GetDescriptor();
  const std::string type_url = refl->GetString(any, desc->FindFieldByName("type_url"));
  const std::string_view type_name = TypeNameFromUrl(type_url);
  if (WrapsExtensionWithoutProto(any)) return absl::OkStatus();  // its translator checks it
  if (FindExtensionByType(type_name) == nullptr) {
    const std::string inner = TypedStructInnerType(AsAny(any));
    return absl::InvalidArgumentError(
        Cat(path, ": unsupported extension '", inner.empty() ? type_name : inner, "'"));
  }
  const pb::Descriptor* type =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(type_name));
  const pb::Message* prototype =
      type ? pb::MessageFactory::generated_factory()->GetPrototype(type) : nullptr;
  if (prototype == nullptr) {
    return absl::InternalError(Cat(path, ": type '", type_name, "' is not linked in"));
  }
  std::unique_ptr<pb::Message> inner(prototype->New());
  if (!inner->ParseFromString(refl->GetString(any, desc->FindFieldByName("value")))) {
    return absl::InvalidArgumentError(Cat(path, ": cannot decode '", type_name, "'"));
  }
  return Walk(*inner, path);
}

absl::Status Walk(const pb::Message& message, const std::string& path) {
  const pb::Descriptor* desc = message.GetDescriptor();
  if (desc->full_name() == "google.protobuf.Any") return WalkAny(message, path);
  if (desc->file()->package() == "google.protobuf") return absl::OkStatus();  // value types

  const auto& index = Index();
  const auto it = index.find(desc->full_name());
  const pb::Reflection* refl = message.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  refl->ListFields(message, &fields);
  for (const pb::FieldDescriptor* field : fields) {
    const std::string field_path = Join(path, field->name());
    if (it == index.end() || !it->second.contains(field->name())) {
      return absl::InvalidArgumentError(Cat(field_path, ": not supported"));
    }
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (CheckedByTranslator(desc->full_name(), field->name())) continue;
    if (field->is_map()) {
      const pb::FieldDescriptor* key = field->message_type()->map_key();
      const pb::FieldDescriptor* value = field->message_type()->map_value();
      for (int i = 0; i < refl->FieldSize(message, field); ++i) {
        const pb::Message& entry = refl->GetRepeatedMessage(message, field, i);
        if (value->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
        const std::string key_text = key->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING
                                         ? entry.GetReflection()->GetString(entry, key)
                                         : std::to_string(i);
        absl::Status s = Walk(entry.GetReflection()->GetMessage(entry, value),
                              Cat(field_path, "[", key_text, "]"));
        if (!s.ok()) return s;
      }
    } else if (field->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(message, field); ++i) {
        absl::Status s =
            Walk(refl->GetRepeatedMessage(message, field, i), Cat(field_path, "[", i, "]"));
        if (!s.ok()) return s;
      }
    } else {
      absl::Status s = Walk(refl->GetMessage(message, field), field_path);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::span<const SupportedFields> SupportedFieldsTable() { return kTable; }

absl::Status CheckSupportedFields(const pb::Message& message, std::string_view path) {
  return Walk(message, std::string(path));
}

}  // namespace weft::config
