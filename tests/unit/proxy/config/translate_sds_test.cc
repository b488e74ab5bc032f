// Translation of SDS-named TLS secrets (the sds_config forms Istio writes), cluster
// transport_socket_matches with the endpoints' envoy.transport_socket_match metadata, and
// UpstreamTlsContext validation_context.trust_chain_verification.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"
#include "proxy/tls/tls_context.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

// Istio's SDS config (pilot/pkg/security/model/authentication.go ConstructSdsSecretConfig).
const char kIstioSds[] =
    "sds_config: {api_config_source: {api_type: GRPC, grpc_services: [{envoy_grpc: "
    "{cluster_name: sds-grpc}}], set_node_on_first_message_only: true, transport_api_version: "
    "V3}, initial_fetch_timeout: 0s, resource_api_version: V3}";
const char kAdsSds[] = "sds_config: {ads: {}, resource_api_version: V3}";

// One cluster `backend` with `tls` as its UpstreamTlsContext's common_tls_context and
// `cluster_extra` appended to it; its endpoint carries `endpoint_metadata` (YAML, may be "").
std::string Bootstrap(const std::string& common_tls_context, const std::string& cluster_extra = "",
                      const std::string& endpoint_metadata = "") {
  return R"Y(
static_resources:
  clusters:
  - name: backend
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8080}}}
)Y" + endpoint_metadata +
         R"Y(
        - endpoint: {address: {socket_address: {address: 127.0.0.2, port_value: 8080}}}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
)Y" + common_tls_context +
         "\n" + cluster_extra;
}

std::string IstioMutual(const char* sds, const std::string& cert = "default",
                        const std::string& root = "ROOTCA") {
  return std::string("          tls_certificate_sds_secret_configs: [{name: ") + cert + ", " + sds +
         R"Y(}]
          combined_validation_context:
            default_validation_context:
              match_subject_alt_names: [{exact: "spiffe://cluster.local/ns/default/sa/b"}]
            validation_context_sds_secret_config: {name: )Y" +
         root + ", " + sds + "}";
}

std::string ErrorOf(const std::string& yaml) {
  auto result = LoadBootstrapFromString(yaml);
  EXPECT_FALSE(result.ok()) << "loaded unexpectedly";
  return result.ok() ? "" : std::string(result.status().message());
}

TEST(TranslateSdsTest, IstioAndAdsFormsNameTheAgentsSecrets) {
  for (const char* form : {kIstioSds, kAdsSds}) {
    auto config = LoadBootstrapFromString(Bootstrap(IstioMutual(form)));
    ASSERT_TRUE(config.ok()) << config.status();
    const auto& tls = config->clusters.at(0)->tls;
    ASSERT_NE(tls, nullptr);
    EXPECT_EQ(tls->config().certificate_sds_name, "default");
    EXPECT_EQ(tls->config().validation_sds_name, "ROOTCA");
    EXPECT_TRUE(tls->needs_secrets());
    EXPECT_EQ(tls->current(), nullptr);  // no SSL_CTX before the secrets arrive
    EXPECT_THAT(tls->config().sds_path, HasSubstr("tls_certificate_sds_secret_configs[0]"));
  }
}

// How long a listener warms for these secrets: Envoy's ConfigSource initial_fetch_timeout (15 s
// when unset; 0 = no limit); of two SDS configs, the longer wait (0 wins).
TEST(TranslateSdsTest, InitialFetchTimeoutBoundsWarming) {
  auto timeout_of = [](const std::string& cert_sds, const std::string& root_sds) {
    const std::string tls =
        "          tls_certificate_sds_secret_configs: [{name: default, " + cert_sds +
        "}]\n          validation_context_sds_secret_config: {name: ROOTCA, " + root_sds + "}";
    auto config = LoadBootstrapFromString(Bootstrap(tls));
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? config->clusters.at(0)->tls->config().initial_fetch_timeout.count() : -1;
  };
  const std::string ads = "sds_config: {ads: {}}";
  const std::string two_s = "sds_config: {ads: {}, initial_fetch_timeout: 2s}";
  const std::string five_s = "sds_config: {ads: {}, initial_fetch_timeout: 5s}";
  EXPECT_EQ(timeout_of(ads, ads), 15000);
  EXPECT_EQ(timeout_of(two_s, five_s), 5000);
  EXPECT_EQ(timeout_of(five_s, two_s), 5000);
  EXPECT_EQ(timeout_of(kIstioSds, two_s), 0);  // Istio's 0s: wait as long as it takes
  EXPECT_EQ(timeout_of(two_s, kIstioSds), 0);
}

TEST(TranslateSdsTest, OtherSecretNamesComeOverAds) {
  // DestinationRule credentialName's names (weftd serves them over ADS).
  auto config = LoadBootstrapFromString(
      Bootstrap(IstioMutual(kAdsSds, "kubernetes://my-cert", "kubernetes://my-cert-cacert")));
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& tls = config->clusters.at(0)->tls;
  ASSERT_NE(tls, nullptr);
  EXPECT_EQ(tls->config().certificate_sds_name, "kubernetes://my-cert");
  EXPECT_EQ(tls->config().validation_sds_name, "kubernetes://my-cert-cacert");
  EXPECT_TRUE(tls->needs_secrets());
}

TEST(TranslateSdsTest, OtherSecretNamesNeedAdsAndAreRefusedWithTheirPath) {
  // Istio's sds-grpc is the in-process agent: it has only `default` and `ROOTCA`.
  EXPECT_THAT(
      ErrorOf(Bootstrap(IstioMutual(kIstioSds, "kubernetes://my-cert"))),
      HasSubstr("common_tls_context.tls_certificate_sds_secret_configs[0].sds_config: SDS secret "
                "'kubernetes://my-cert': only the identity agent's 'default' and 'ROOTCA' are "
                "served in-process; other names need ads: {}"));
  EXPECT_THAT(ErrorOf(Bootstrap(IstioMutual(kIstioSds, "default", "other-root"))),
              HasSubstr("combined_validation_context.validation_context_sds_secret_config."
                        "sds_config: SDS secret 'other-root'"));
  // The names swapped: ROOTCA is a root bundle, not a certificate.
  EXPECT_THAT(ErrorOf(Bootstrap(IstioMutual(kAdsSds, "ROOTCA", "default"))),
              HasSubstr("SDS secret 'ROOTCA' is the identity agent's root bundle"));
}

TEST(TranslateSdsTest, OtherConfigSourcesAreRefused) {
  const char* rest =
      "sds_config: {api_config_source: {api_type: REST, grpc_services: [{envoy_grpc: "
      "{cluster_name: sds-grpc}}]}}";
  EXPECT_THAT(ErrorOf(Bootstrap(IstioMutual(rest))),
              HasSubstr("sds_config.api_config_source.api_type: only GRPC is supported"));
  const char* path = "sds_config: {path_config_source: {path: /tmp/x}}";
  EXPECT_THAT(ErrorOf(Bootstrap(IstioMutual(path))), HasSubstr("path_config_source"));
}

TEST(TranslateSdsTest, TrustChainVerification) {
  const std::string accept = R"Y(
          validation_context:
            trust_chain_verification: ACCEPT_UNTRUSTED
            match_subject_alt_names: [{exact: "spiffe://cluster.local/ns/default/sa/b"}])Y";
  auto config = LoadBootstrapFromString(Bootstrap(accept));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->clusters.at(0)->tls->config().accept_untrusted);
  const std::string verify = R"Y(
          validation_context:
            trust_chain_verification: VERIFY_TRUST_CHAIN
            match_subject_alt_names: [{exact: "spiffe://cluster.local/ns/default/sa/b"}])Y";
  // Verifying needs a CA to verify against.
  EXPECT_THAT(ErrorOf(Bootstrap(verify)), HasSubstr("need trusted_ca"));
}

// Istio's auto mTLS: tlsMode-istio for endpoints marked {tlsMode: istio}, plaintext
// (raw_buffer, Istio's tlsMode-disabled) for the rest.
const char kMatches[] = R"Y(
    transport_socket_matches:
    - name: tlsMode-istio
      match: {tlsMode: istio}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: outbound_.8080_._.b.default.svc.cluster.local
          common_tls_context:
            alpn_protocols: [istio-http/1.1, istio]
            tls_certificate_sds_secret_configs: [{name: default, sds_config: {ads: {}}}]
            validation_context_sds_secret_config: {name: ROOTCA, sds_config: {ads: {}}}
    - name: tlsMode-disabled
      match: {}
      transport_socket:
        name: envoy.transport_sockets.raw_buffer
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer
)Y";
const char kIstioEndpoint[] = R"Y(
          metadata:
            filter_metadata:
              envoy.transport_socket_match: {tlsMode: istio}
              istio: {workload: b-v1})Y";

TEST(TranslateSdsTest, TransportSocketMatchesAndEndpointMetadata) {
  const std::string plain_ca = R"Y(
          alpn_protocols: [h2])Y";
  auto config = LoadBootstrapFromString(Bootstrap(plain_ca, kMatches, kIstioEndpoint));
  ASSERT_TRUE(config.ok()) << config.status();
  const upstream::ClusterConfig& c = *config->clusters.at(0);
  ASSERT_EQ(c.transport_socket_matches.size(), 2u);
  EXPECT_EQ(c.transport_socket_matches[0].name, "tlsMode-istio");
  EXPECT_EQ(c.transport_socket_matches[0].match,
            (upstream::TransportSocketMatchMetadata{{"tlsMode", "\"istio\""}}));
  ASSERT_NE(c.transport_socket_matches[0].tls, nullptr);
  EXPECT_EQ(c.transport_socket_matches[0].tls->config().sni,
            "outbound_.8080_._.b.default.svc.cluster.local");
  EXPECT_EQ(c.transport_socket_matches[1].tls, nullptr);  // raw_buffer
  EXPECT_TRUE(c.transport_socket_matches[1].match.empty());
  const auto& endpoints = c.localities.at(0).endpoints;
  EXPECT_EQ(endpoints.at(0).transport_socket_match,
            (upstream::TransportSocketMatchMetadata{{"tlsMode", "\"istio\""}}));
  EXPECT_TRUE(endpoints.at(1).transport_socket_match.empty());
}

TEST(TranslateSdsTest, BadMatchesAreRefusedWithTheirPath) {
  const std::string no_socket = R"Y(
    transport_socket_matches:
    - name: m
      match: {tlsMode: istio}
)Y";
  EXPECT_THAT(ErrorOf(Bootstrap("          alpn_protocols: [h2]", no_socket)),
              HasSubstr("transport_socket_matches[0].transport_socket: is required"));
  const std::string twice = R"Y(
    transport_socket_matches:
    - {name: m, transport_socket: {name: envoy.transport_sockets.raw_buffer}}
    - {name: m, transport_socket: {name: envoy.transport_sockets.raw_buffer}}
)Y";
  EXPECT_THAT(ErrorOf(Bootstrap("          alpn_protocols: [h2]", twice)),
              HasSubstr("transport_socket_matches[1].name: 'm' is used twice"));
  const std::string other_sds = R"Y(
    transport_socket_matches:
    - name: m
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          common_tls_context:
            tls_certificate_sds_secret_configs: [{name: x}]
)Y";
  // A name other than the agent's needs ads: {} (no sds_config: refused with its path).
  EXPECT_THAT(ErrorOf(Bootstrap("          alpn_protocols: [h2]", other_sds)),
              HasSubstr("transport_socket_matches[0].transport_socket.typed_config.common_tls_"
                        "context.tls_certificate_sds_secret_configs[0].sds_config: SDS secret "
                        "'x'"));
}

}  // namespace
}  // namespace weft::config
