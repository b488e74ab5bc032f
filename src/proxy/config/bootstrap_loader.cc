// The bootstrap pipeline: YAML/JSON text -> JSON typed by the schema (yaml_to_json) -> Bootstrap
// proto (protobuf's JSON parser, unknown fields refused) -> supported-fields walk -> translation
// (translate_*.cc) -> checks across resources (names, addresses, cluster references).
#include "proxy/config/bootstrap_loader.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "base/status.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "proxy/config/supported_fields.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/yaml_to_json.h"
#include "proxy/tls/tls_context.h"

// Weft accepts Envoy's deprecated spellings (they are still valid v3 config), so reading them
// here is intended.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace weft::config {
namespace {

namespace bootstrap = envoy::config::bootstrap::v3;

absl::StatusOr<bootstrap::Bootstrap> ParseBootstrap(std::string_view text) {
  ASSIGN_OR_RETURN(std::string json, YamlToJson(text, *bootstrap::Bootstrap::descriptor()));
  bootstrap::Bootstrap proto;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // an unknown field is an error, as in Envoy
  const auto status = google::protobuf::util::JsonStringToMessage(json, &proto, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(Cat("invalid bootstrap: ", std::string(status.message())));
  }
  return proto;
}

NodeConfig TranslateNode(const envoy::config::core::v3::Node& node) {
  NodeConfig out;
  out.id = node.id();
  out.cluster = node.cluster();
  for (const auto& [key, value] : node.metadata().fields()) {
    if (value.has_string_value()) {
      out.metadata[key] = value.string_value();
    } else {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(value, &json);
      out.metadata[key] = std::move(json);
    }
  }
  out.locality_region = node.locality().region();
  out.locality_zone = node.locality().zone();
  out.locality_sub_zone = node.locality().sub_zone();
  return out;
}

absl::StatusOr<AdminConfig> TranslateAdmin(const bootstrap::Admin& admin, std::string_view path) {
  AdminConfig out;
  if (admin.has_address()) {
    ASSIGN_OR_RETURN(HostPort hp,
                     TranslateSocketAddress(admin.address(), FieldPath(path, "address")));
    if (!IsIpLiteral(hp.address)) {
      return ConfigError(FieldPath(path, "address.socket_address.address"), "'", hp.address,
                         "' is not an IP address");
    }
    out.enabled = true;
    out.address = std::move(hp.address);
    out.port = hp.port;
  }
  if (!admin.access_log_path().empty()) {  // deprecated spelling of a file access log
    listener::AccessLogConfig log;
    log.sink = listener::AccessLogConfig::Sink::kFile;
    log.path = admin.access_log_path();
    out.access_logs.push_back(std::move(log));
  }
  ASSIGN_OR_RETURN(std::vector<listener::AccessLogConfig> logs,
                   TranslateAccessLogs(admin.access_log(), FieldPath(path, "access_log")));
  for (auto& log : logs) out.access_logs.push_back(std::move(log));
  return out;
}

// Where a listener's filter chains refer to clusters, with the path of each reference.
void CollectClusterRefs(const listener::FilterChain& chain, const std::string& chain_path,
                        std::vector<std::pair<std::string, std::string>>& refs) {
  const std::string filter_path = FieldPath(chain_path, "filters[0].typed_config");
  if (const auto* tcp = std::get_if<listener::TcpProxyConfig>(&chain.filter)) {
    if (!tcp->cluster.empty()) refs.emplace_back(tcp->cluster, FieldPath(filter_path, "cluster"));
    for (size_t i = 0; i < tcp->weighted_clusters.size(); ++i) {
      refs.emplace_back(tcp->weighted_clusters[i].name,
                        Cat(filter_path, ".weighted_clusters.clusters[", i, "].name"));
    }
    return;
  }
  const auto& hcm = std::get<listener::HttpConnectionManagerConfig>(chain.filter);
  if (!hcm.route_config) return;
  const std::string rc_path = FieldPath(filter_path, "route_config");
  for (size_t v = 0; v < hcm.route_config->virtual_hosts.size(); ++v) {
    const auto& vh = hcm.route_config->virtual_hosts[v];
    for (size_t r = 0; r < vh.routes.size(); ++r) {
      const auto* action = std::get_if<router::RouteAction>(&vh.routes[r].action);
      if (action == nullptr) continue;
      const std::string route_path = Cat(rc_path, ".virtual_hosts[", v, "].routes[", r, "].route");
      if (!action->cluster.empty()) {
        refs.emplace_back(action->cluster, FieldPath(route_path, "cluster"));
      }
      for (size_t w = 0; w < action->weighted_clusters.size(); ++w) {
        refs.emplace_back(action->weighted_clusters[w].name,
                          Cat(route_path, ".weighted_clusters.clusters[", w, "].name"));
      }
    }
  }
}

absl::Status CheckAcrossResources(const BootstrapConfig& config) {
  const std::string listeners_path = "static_resources.listeners";
  const std::string clusters_path = "static_resources.clusters";

  absl::flat_hash_map<std::string, size_t> cluster_index;
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    auto [it, inserted] = cluster_index.emplace(config.clusters[i]->name, i);
    if (!inserted) {
      return ConfigError(Cat(clusters_path, "[", i, "].name"), "duplicate cluster name '",
                         config.clusters[i]->name, "' (also clusters[", it->second, "])");
    }
  }

  absl::flat_hash_map<std::string, size_t> listener_names;
  absl::flat_hash_map<std::string, size_t> listener_addresses;
  std::vector<std::pair<std::string, std::string>> refs;  // (cluster, path)
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    const listener::ListenerConfig& l = config.listeners[i];
    const std::string l_path = Cat(listeners_path, "[", i, "]");
    if (!l.name.empty()) {
      auto [it, inserted] = listener_names.emplace(l.name, i);
      if (!inserted) {
        return ConfigError(FieldPath(l_path, "name"), "duplicate listener name '", l.name,
                           "' (also listeners[", it->second, "])");
      }
    }
    if (l.bind_to_port && l.port != 0) {
      const std::string key = Cat(l.address, "|", l.port);
      auto [it, inserted] = listener_addresses.emplace(key, i);
      if (!inserted) {
        return ConfigError(FieldPath(l_path, "address"), "duplicate listener address ", l.address,
                           ":", l.port, " (also listeners[", it->second, "])");
      }
    }
    for (size_t c = 0; c < l.filter_chains.size(); ++c) {
      CollectClusterRefs(l.filter_chains[c], Cat(l_path, ".filter_chains[", c, "]"), refs);
    }
    if (l.default_filter_chain) {
      CollectClusterRefs(*l.default_filter_chain, FieldPath(l_path, "default_filter_chain"), refs);
    }
  }
  for (const auto& [cluster, path] : refs) {
    if (!cluster_index.contains(cluster)) {
      return ConfigError(path, "unknown cluster '", cluster, "'");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Cat("cannot open bootstrap file '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(Cat("cannot read bootstrap file '", path, "'"));
  return text.str();
}

// dynamic_resources -> XdsConfig. The ADS server is reached through a cluster of the bootstrap
// (envoy_grpc: its first endpoint) or a gRPC target URI (google_grpc).
// The ADS cluster's UpstreamTlsContext, for the xDS client's own gRPC channel (not weft-proxy's
// connection pools): gRPC's TLS needs the trusted CA and, for a client certificate, the PEMs
// themselves, so neither may come from SDS (the SDS secrets would arrive over this very
// stream). Istio's sidecars reach istiod's 15012 this way, verifying its certificate for
// istiod.istio-system.svc (the SNI).
absl::Status AdsClusterTls(const upstream::ClusterConfig& cluster, const std::string& path,
                           XdsConfig& xds) {
  if (!cluster.tls) return absl::OkStatus();
  const tls::TlsContextConfig& tls = cluster.tls->config();
  if (!tls.validation || !tls.validation_sds_name.empty()) {
    return ConfigError(path, "cluster '", cluster.name,
                       "' is the ADS cluster: its UpstreamTlsContext needs "
                       "common_tls_context.validation_context.trusted_ca (a file or inline, not "
                       "SDS) to verify the xDS server");
  }
  if (!tls.certificate_sds_name.empty()) {
    return ConfigError(path, "cluster '", cluster.name,
                       "' is the ADS cluster: its client certificate cannot come from SDS");
  }
  if (tls.accept_untrusted || !tls.san_matchers.empty()) {
    return ConfigError(path, "cluster '", cluster.name,
                       "' is the ADS cluster: only trusted_ca verification (and the SNI as the "
                       "server name) is supported for it, not SAN matchers or ACCEPT_UNTRUSTED");
  }
  if (tls.params.min_version != 0 || tls.params.max_version != 0 ||
      !tls.params.cipher_suites.empty() || !tls.params.ecdh_curves.empty()) {
    return ConfigError(path, "cluster '", cluster.name,
                       "' is the ADS cluster: gRPC chooses its TLS versions and ciphers, so "
                       "tls_params cannot be set on it");
  }
  xds.tls = true;
  xds.tls_root_pem = tls.validation->trusted_ca_pem;
  xds.tls_sni = tls.sni;
  if (tls.certificate) {
    xds.tls_cert_chain_pem = tls.certificate->cert_chain_pem;
    xds.tls_private_key_pem = tls.certificate->private_key_pem;
  }
  return absl::OkStatus();
}

absl::Status TranslateDynamicResources(const bootstrap::Bootstrap& proto, BootstrapConfig& config) {
  const std::string path = "dynamic_resources";
  const auto& dr = proto.dynamic_resources();
  for (const auto& [source, name] :
       {std::pair{&dr.lds_config(), "lds_config"}, std::pair{&dr.cds_config(), "cds_config"}}) {
    const bool present =
        std::string(name) == "lds_config" ? dr.has_lds_config() : dr.has_cds_config();
    if (present && !source->has_ads()) {
      return ConfigError(FieldPath(path, name), "only ads: {} is supported");
    }
  }
  config.xds.lds = dr.has_lds_config();
  config.xds.cds = dr.has_cds_config();
  if (!dr.has_ads_config()) {
    if (config.xds.lds || config.xds.cds) {
      return ConfigError(FieldPath(path, "ads_config"), "is required by lds_config/cds_config ads");
    }
    return absl::OkStatus();
  }
  const auto& ads = dr.ads_config();
  const std::string ads_path = FieldPath(path, "ads_config");
  // ApiConfigSource.ApiType: GRPC is state of the world, DELTA_GRPC incremental; the
  // AGGREGATED_ variants say the same for an aggregated (ADS) source.
  using ApiConfigSource = envoy::config::core::v3::ApiConfigSource;
  switch (ads.api_type()) {
    case ApiConfigSource::GRPC:
    case ApiConfigSource::AGGREGATED_GRPC:
      config.xds.delta = false;
      break;
    case ApiConfigSource::DELTA_GRPC:
    case ApiConfigSource::AGGREGATED_DELTA_GRPC:
      config.xds.delta = true;
      break;
    default:
      return ConfigError(FieldPath(ads_path, "api_type"),
                         "only GRPC (state of the world) and DELTA_GRPC (incremental) are "
                         "supported by weft-proxy's client");
  }
  if (ads.grpc_services_size() != 1) {
    return ConfigError(FieldPath(ads_path, "grpc_services"), "exactly one is required");
  }
  const auto& service = ads.grpc_services(0);
  const std::string s_path = FieldPath(ads_path, "grpc_services[0]");
  if (service.has_envoy_grpc()) {
    const std::string& cluster = service.envoy_grpc().cluster_name();
    const upstream::ClusterConfig* found = nullptr;
    for (const auto& c : config.clusters) {
      if (c->name == cluster) found = c.get();
    }
    if (found == nullptr) {
      return ConfigError(FieldPath(s_path, "envoy_grpc.cluster_name"), "unknown cluster '", cluster,
                         "' (it must be a static_resources cluster)");
    }
    if (found->localities.empty() || found->localities[0].endpoints.empty()) {
      return ConfigError(FieldPath(s_path, "envoy_grpc.cluster_name"), "cluster '", cluster,
                         "' has no endpoint");
    }
    RETURN_IF_ERROR(
        AdsClusterTls(*found, FieldPath(s_path, "envoy_grpc.cluster_name"), config.xds));
    const auto& e = found->localities[0].endpoints[0];
    config.xds.target = e.address.find(':') != std::string::npos
                            ? Cat("ipv6:[", e.address, "]:", e.port)
                            : Cat(e.address, ":", e.port);
  } else if (service.has_google_grpc()) {
    config.xds.target = service.google_grpc().target_uri();
    if (config.xds.target.empty()) {
      return ConfigError(FieldPath(s_path, "google_grpc.target_uri"), "is required");
    }
  } else {
    return ConfigError(s_path, "needs envoy_grpc or google_grpc");
  }
  if (proto.node().id().empty()) {
    return ConfigError("node.id", "is required with dynamic_resources (the server keys on it)");
  }
  config.xds.enabled = true;
  (void)google::protobuf::util::MessageToJsonString(proto.node().metadata(),
                                                    &config.xds.node_metadata_json);
  return absl::OkStatus();
}

absl::StatusOr<BootstrapConfig> TranslateBootstrap(const bootstrap::Bootstrap& proto) {
  RETURN_IF_ERROR(CheckSupportedFields(proto, ""));

  BootstrapConfig config;
  config.node = TranslateNode(proto.node());
  if (proto.has_admin()) {
    ASSIGN_OR_RETURN(config.admin, TranslateAdmin(proto.admin(), "admin"));
  }
  const auto& resources = proto.static_resources();
  for (int i = 0; i < resources.listeners_size(); ++i) {
    ASSIGN_OR_RETURN(listener::ListenerConfig l,
                     internal::TranslateListenerUnchecked(
                         resources.listeners(i), IndexPath("static_resources", "listeners", i)));
    config.listeners.push_back(std::move(l));
  }
  for (int i = 0; i < resources.clusters_size(); ++i) {
    ASSIGN_OR_RETURN(upstream::ClusterConfig c,
                     internal::TranslateClusterUnchecked(
                         resources.clusters(i), IndexPath("static_resources", "clusters", i)));
    config.clusters.push_back(std::make_shared<const upstream::ClusterConfig>(std::move(c)));
  }
  RETURN_IF_ERROR(CheckAcrossResources(config));
  RETURN_IF_ERROR(TranslateDynamicResources(proto, config));
  if (!config.xds.enabled) {
    for (size_t i = 0; i < config.listeners.size(); ++i) {
      for (size_t c = 0; c < config.listeners[i].filter_chains.size(); ++c) {
        const auto* hcm = std::get_if<listener::HttpConnectionManagerConfig>(
            &config.listeners[i].filter_chains[c].filter);
        if (hcm && !hcm->rds_route_config_name.empty()) {
          return ConfigError(Cat("static_resources.listeners[", i, "].filter_chains[", c,
                                 "].filters[0].typed_config.rds"),
                             "rds needs dynamic_resources.ads_config");
        }
      }
    }
  }

  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  const auto printed =
      google::protobuf::util::MessageToJsonString(proto, &config.config_dump_json, print);
  if (!printed.ok()) {
    return absl::InternalError(Cat("config dump: ", std::string(printed.message())));
  }
  return config;
}

}  // namespace

absl::StatusOr<BootstrapConfig> LoadBootstrapFromString(std::string_view yaml_or_json) {
  LinkExtensionTypes();
  ASSIGN_OR_RETURN(bootstrap::Bootstrap proto, ParseBootstrap(yaml_or_json));
  return TranslateBootstrap(proto);
}

absl::StatusOr<BootstrapConfig> LoadBootstrapFromFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto config = LoadBootstrapFromString(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(), Cat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<BootstrapConfig> LoadBootstrapWithOverride(const std::string& path,
                                                          std::string_view yaml_override) {
  LinkExtensionTypes();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto base = ParseBootstrap(text);
  if (!base.ok())
    return absl::Status(base.status().code(), Cat(path, ": ", base.status().message()));
  auto overlay = ParseBootstrap(yaml_override);
  if (!overlay.ok()) {
    return absl::Status(overlay.status().code(),
                        Cat("--config-yaml: ", overlay.status().message()));
  }
  base->MergeFrom(*overlay);
  return TranslateBootstrap(*base);
}

}  // namespace weft::config
