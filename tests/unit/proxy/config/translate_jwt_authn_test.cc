// envoy.filters.http.jwt_authn through the bootstrap loader: what is accepted, and what is
// refused with its field path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"
#include "unit/proxy/jwt/jwt_test_util.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

const std::string kHcm =
    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0]."
    "typed_config";

std::string Jwks() {
  static const std::string jwks =
      jwt::testing::TestKey(jwt::testing::TestKey::Type::kEd25519).JwksText();
  return jwks;
}

// One listener whose HCM runs jwt_authn with `config` (flow-style YAML of JwtAuthentication).
std::string Bootstrap(const std::string& config) {
  return R"Y(
static_resources:
  listeners:
  - name: l0
    address: {socket_address: {address: 127.0.0.1, port_value: 10000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              )Y" +
         config + R"Y(
          - name: envoy.filters.http.router
          route_config:
            virtual_hosts: [{name: vh, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]}]
)Y";
}

std::string Provider(const std::string& extra = "") {
  return "providers: {p1: {issuer: https://issuer.test, audiences: [a], local_jwks: "
         "{inline_string: '" +
         Jwks() + "'}" + extra + "}}";
}

// `config`'s providers and `rules` as two lines of the typed_config block.
std::string WithRules(const std::string& providers, const std::string& rules) {
  return providers + "\n              rules: " + rules;
}

std::string ErrorOf(const std::string& config) {
  auto result = LoadBootstrapFromString(Bootstrap(config));
  EXPECT_FALSE(result.ok()) << "loaded unexpectedly";
  return result.ok() ? "" : std::string(result.status().message());
}

TEST(TranslateJwtAuthnTest, LoadsEveryImplementedField) {
  const std::string config =
      Provider(
          ", forward: true, from_headers: [{name: X-Token, value_prefix: 'Token '}], "
          "from_params: [jwt], forward_payload_header: x-payload, payload_in_metadata: p, "
          "clock_skew_seconds: 5, claim_to_headers: [{header_name: x-sub, claim_name: sub}]") +
      "\n              rules: [{match: {prefix: /api}, requires: {requires_any: {requirements: "
      "[{provider_name: p1}, {allow_missing: {}}]}}}, {match: {path: /x}, requires: "
      "{provider_and_audiences: {provider_name: p1, audiences: [b]}}}, {match: {prefix: /}, "
      "requires: {allow_missing_or_failed: {}}}]";
  auto result = LoadBootstrapFromString(Bootstrap(config));
  ASSERT_TRUE(result.ok()) << result.status();
  auto remote = LoadBootstrapFromString(
      Bootstrap("providers: {p1: {remote_jwks: {http_uri: {uri: 'http://jwks.test:8080/keys?x=1', "
                "cluster: c, timeout: 2s}, cache_duration: 300s}}}"));
  EXPECT_TRUE(remote.ok()) << remote.status();
  // https: the cluster's transport socket does the TLS, as in Envoy.
  auto remote_tls = LoadBootstrapFromString(
      Bootstrap("providers: {p1: {remote_jwks: {http_uri: {uri: 'https://jwks.test/keys', "
                "cluster: c, timeout: 2s}}}}"));
  EXPECT_TRUE(remote_tls.ok()) << remote_tls.status();
}

TEST(TranslateJwtAuthnTest, RefusesWhatItDoesNotImplementWithPaths) {
  EXPECT_EQ(ErrorOf("providers: {p1: {remote_jwks: {http_uri: {uri: 'ftp://x/jwks', cluster: "
                    "c, timeout: 1s}}}}"),
            kHcm +
                ".providers[p1].remote_jwks.http_uri.uri: must be an http:// or https:// URL, got "
                "'ftp://x/jwks'");
  EXPECT_EQ(ErrorOf("providers: {p1: {remote_jwks: {http_uri: {uri: 'http://x/jwks', timeout: "
                    "1s}}}}"),
            kHcm + ".providers[p1].remote_jwks.http_uri.cluster: is required");
  EXPECT_EQ(ErrorOf("providers: {p1: {remote_jwks: {http_uri: {uri: 'http://x/jwks', cluster: c, "
                    "timeout: 1s}, async_fetch: {}}}}"),
            kHcm + ".providers[p1].remote_jwks.async_fetch: not supported");
  EXPECT_EQ(ErrorOf(Provider(", from_cookies: [c]")),
            kHcm + ".providers[p1].from_cookies: not supported");
  EXPECT_EQ(ErrorOf(WithRules(Provider(), "[{match: {prefix: /}, requires: {provider_name: p2}}]")),
            kHcm + ".rules[0].requires.provider_name: names no provider: 'p2'");
  EXPECT_THAT(ErrorOf(WithRules(Provider(),
                                "[{match: {prefix: /, headers: [{name: a, "
                                "present_match: true}]}, requires: {provider_name: p1}}]")),
              HasSubstr(kHcm + ".rules[0].match.headers"));
  EXPECT_EQ(ErrorOf("providers: {p1: {local_jwks: {inline_string: '{\"keys\": []}'}}}"),
            kHcm + ".providers[p1].local_jwks: Jwks doesn't have any valid public key");
  EXPECT_EQ(ErrorOf(WithRules(Provider(),
                              "[{match: {prefix: /}, requires: {requires_any: "
                              "{requirements: [{provider_name: p1}]}}}]")),
            kHcm + ".rules[0].requires.requires_any.requirements: needs at least 2 requirements");
}

}  // namespace
}  // namespace weft::config
