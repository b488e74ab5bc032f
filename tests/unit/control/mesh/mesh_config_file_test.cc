#include "control/mesh/mesh_config_file.h"

#include <gtest/gtest.h>

namespace weft::control::mesh {
namespace {

using translate::MeshConfig;

TEST(MeshConfigFileTest, EmptyIsIstiosDefaults) {
  auto config = ParseMeshConfig("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, MeshConfig{});
  EXPECT_EQ(config->outbound_traffic_policy, MeshConfig::OutboundTrafficPolicy::kAllowAny);
  EXPECT_EQ(config->root_namespace, "istio-system");
  EXPECT_EQ(config->trust_domain, "cluster.local");
}

TEST(MeshConfigFileTest, ReadsTheFieldsItHonours) {
  auto config = ParseMeshConfig(R"(
outboundTrafficPolicy: {mode: REGISTRY_ONLY}
rootNamespace: mesh-root
trustDomain: example.org
accessLogFile: /dev/stdout
defaultConfig: {holdApplicationUntilProxyStarts: false}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->outbound_traffic_policy, MeshConfig::OutboundTrafficPolicy::kRegistryOnly);
  EXPECT_EQ(config->root_namespace, "mesh-root");
  EXPECT_EQ(config->trust_domain, "example.org");
  EXPECT_EQ(config->access_log_file, "/dev/stdout");
  EXPECT_FALSE(config->hold_application_until_proxy_starts);
}

TEST(MeshConfigFileTest, RefusesWithTheFieldPath) {
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"outboundTrafficPolicy: {mode: DENY}",
       "meshConfig.outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY"},
      {"outboundTrafficPolicy: {egressProxy: x}",
       "meshConfig.outboundTrafficPolicy.egressProxy: unknown field"},
      {"trustDomain: 7", "meshConfig.trustDomain: not a string"},
      {"accessLogFile: [a]", "meshConfig.accessLogFile: not a string"},
      {"defaultConfig: {holdApplicationUntilProxyStarts: maybe}",
       "meshConfig.defaultConfig.holdApplicationUntilProxyStarts: not a boolean"},
      {"enableTracing: true", "meshConfig.enableTracing: unknown field"},
      {"- a\n- b", "meshConfig: not a mapping"},
  };
  for (const auto& c : cases) {
    auto config = ParseMeshConfig(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(std::string(config.status().message()).find(c.error), std::string::npos)
        << c.yaml << " -> " << config.status();
  }
}

TEST(MeshConfigFileTest, MissingFileNamesThePath) {
  auto config = LoadMeshConfig("/nonexistent/mesh.yaml");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(std::string(config.status().message()).find("/nonexistent/mesh.yaml"),
            std::string::npos);
  EXPECT_TRUE(LoadMeshConfig("").ok());
}

}  // namespace
}  // namespace weft::control::mesh
