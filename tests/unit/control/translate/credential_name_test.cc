// DestinationRule tls.credentialName: the cluster's UpstreamTlsContext names Istio's SDS
// resources, and the proxy's namespace's Secrets become SDS Secret resources (and no other
// namespace's) — security.cc, secrets.cc.
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "control/translate/translate.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "proxy/config/translate.h"

namespace weft::control::translate {
namespace {

using nlohmann::json;
namespace tls = envoy::extensions::transport_sockets::tls::v3;

json ServiceEntry() {
  return json::parse(R"({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
      "metadata": {"name": "api", "namespace": "default"},
      "spec": {"hosts": ["api.example.com"], "location": "MESH_EXTERNAL", "resolution": "STATIC",
               "ports": [{"number": 443, "name": "http", "protocol": "HTTP"}],
               "endpoints": [{"address": "10.0.9.9"}]}})");
}

json Dr(const std::string& ns, json tls_settings) {
  return json{
      {"apiVersion", "networking.istio.io/v1"},
      {"kind", "DestinationRule"},
      {"metadata", {{"name", "api"}, {"namespace", ns}}},
      {"spec",
       {{"host", "api.example.com"}, {"trafficPolicy", {{"tls", std::move(tls_settings)}}}}}};
}

json Secret(const std::string& ns, const std::string& name, bool with_ca) {
  json data = {{"tls.crt", absl::Base64Escape("CERT " + ns + "/" + name)},
               {"tls.key", absl::Base64Escape("KEY " + ns + "/" + name)}};
  if (with_ca) data["ca.crt"] = absl::Base64Escape("CA " + ns + "/" + name);
  return json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"type", "kubernetes.io/tls"},
              {"data", std::move(data)}};
}

ProxyIdentity Client(const std::string& ns = "default") {
  ProxyIdentity p;
  p.namespace_ = ns;
  return p;
}

XdsResources TranslateFor(const std::vector<json>& resources,
                          const ProxyIdentity& proxy = Client()) {
  Snapshot s;
  s.resources = resources;
  s.resources.push_back(ServiceEntry());
  s.registry = BuildRegistry(s.resources);
  return Translate(s, proxy);
}

tls::UpstreamTlsContext ContextOf(const XdsResources& r) {
  tls::UpstreamTlsContext ctx;
  for (const auto& c : r.clusters) {
    if (c.name() != "outbound|443||api.example.com") continue;
    EXPECT_EQ(c.transport_socket().name(), "envoy.transport_sockets.tls");
    EXPECT_TRUE(c.transport_socket().typed_config().UnpackTo(&ctx));
  }
  return ctx;
}

TEST(CredentialNameTest, MutualNamesIstiosSdsResourcesOverAds) {
  const XdsResources r = TranslateFor({Dr("default", {{"mode", "MUTUAL"},
                                                      {"credentialName", "client"},
                                                      {"subjectAltNames", {"api.example.com"}}}),
                                       Secret("default", "client", true)});
  const tls::UpstreamTlsContext ctx = ContextOf(r);
  const auto& common = ctx.common_tls_context();
  ASSERT_EQ(common.tls_certificate_sds_secret_configs_size(), 1);
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).name(), "kubernetes://client");
  EXPECT_TRUE(common.tls_certificate_sds_secret_configs(0).sds_config().has_ads());
  EXPECT_EQ(common.tls_certificate_sds_secret_configs(0).sds_config().resource_api_version(),
            envoy::config::core::v3::V3);
  ASSERT_TRUE(common.has_combined_validation_context());
  EXPECT_EQ(common.combined_validation_context().validation_context_sds_secret_config().name(),
            "kubernetes://client-cacert");
  EXPECT_EQ(common.combined_validation_context()
                .default_validation_context()
                .match_typed_subject_alt_names(0)
                .matcher()
                .exact(),
            "api.example.com");
  EXPECT_FALSE(common.has_validation_context());
  EXPECT_EQ(common.tls_certificates_size(), 0);
  EXPECT_EQ(ctx.sni(), "api.example.com");
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];

  // The Secret as SDS resources: certificate and CA apart, inline.
  ASSERT_EQ(r.secrets.size(), 2u);
  EXPECT_EQ(r.secrets[0].name(), "kubernetes://client");
  EXPECT_EQ(r.secrets[0].tls_certificate().certificate_chain().inline_bytes(),
            "CERT default/client");
  EXPECT_EQ(r.secrets[0].tls_certificate().private_key().inline_bytes(), "KEY default/client");
  EXPECT_EQ(r.secrets[1].name(), "kubernetes://client-cacert");
  EXPECT_EQ(r.secrets[1].validation_context().trusted_ca().inline_bytes(), "CA default/client");

  // weft-proxy accepts what weftd sends: the cluster and both secrets.
  for (const auto& c : r.clusters) {
    auto translated = config::TranslateCluster(c);
    EXPECT_TRUE(translated.ok()) << c.name() << ": " << translated.status();
  }
  for (const auto& secret : r.secrets) {
    auto translated = config::TranslateSecret(secret);
    ASSERT_TRUE(translated.ok()) << secret.name() << ": " << translated.status();
    EXPECT_EQ(translated->certificate.has_value(), secret.has_tls_certificate());
  }
}

TEST(CredentialNameTest, SimpleValidatesOnly) {
  const XdsResources r = TranslateFor(
      {Dr("default", {{"mode", "SIMPLE"}, {"credentialName", "client"}, {"sni", "x.test"}}),
       Secret("default", "client", true)});
  const tls::UpstreamTlsContext ctx = ContextOf(r);
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs_size(), 0);
  EXPECT_EQ(ctx.common_tls_context()
                .combined_validation_context()
                .validation_context_sds_secret_config()
                .name(),
            "kubernetes://client-cacert");
  EXPECT_EQ(ctx.sni(), "x.test");
}

TEST(CredentialNameTest, OnlyTheProxysNamespaceSecretsAreServed) {
  // prod's Secret of the same name is not the default proxy's, and vice versa.
  const std::vector<json> resources = {
      Dr("default", {{"mode", "MUTUAL"}, {"credentialName", "client"}}),
      Secret("default", "client", false), Secret("prod", "client", true),
      Secret("prod", "other", true)};
  XdsResources r = TranslateFor(resources);
  ASSERT_EQ(r.secrets.size(), 1u);
  EXPECT_EQ(r.secrets[0].tls_certificate().private_key().inline_bytes(), "KEY default/client");
  // Without a CA the -cacert resource does not exist: weftd says so.
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("Secret default/client has no CA"), std::string::npos)
      << r.warnings[0];

  r = TranslateFor(resources, Client("prod"));
  ASSERT_EQ(r.secrets.size(), 4u);
  for (const auto& s : r.secrets) {
    const std::string bytes = s.has_tls_certificate()
                                  ? s.tls_certificate().private_key().inline_bytes()
                                  : s.validation_context().trusted_ca().inline_bytes();
    EXPECT_NE(bytes.find("prod/"), std::string::npos) << s.name();
  }
}

TEST(CredentialNameTest, MissingSecretIsWarnedAndFilePathsIgnored) {
  const XdsResources r = TranslateFor({Dr(
      "default",
      {{"mode", "MUTUAL"}, {"credentialName", "absent"}, {"clientCertificate", "/etc/c.pem"}})});
  const tls::UpstreamTlsContext ctx = ContextOf(r);
  EXPECT_EQ(ctx.common_tls_context().tls_certificate_sds_secret_configs(0).name(),
            "kubernetes://absent");
  EXPECT_EQ(ctx.common_tls_context().tls_certificates_size(), 0);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].find("tls.clientCertificate: ignored (credentialName is set)"),
            std::string::npos)
      << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("tls.credentialName: no Secret default/absent"), std::string::npos)
      << r.warnings[1];
  EXPECT_TRUE(r.secrets.empty());
}

}  // namespace
}  // namespace weft::control::translate
