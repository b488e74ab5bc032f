#include "proxy/config/yaml_to_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

using nlohmann::json;

json Convert(const std::string& yaml) {
  LinkExtensionTypes();
  auto out = YamlToJson(yaml, *envoy::config::bootstrap::v3::Bootstrap::descriptor());
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? json::parse(*out) : json();
}

TEST(YamlToJsonTest, TypesScalarsByTheFieldTheyFill) {
  const json j = Convert(R"Y(
node:
  id: 123                   # string field: stays a string
  metadata: {a: 1, b: "1", c: true, d: 1.5, e: ~}   # Struct: YAML core schema
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: "9901"}}
)Y");
  EXPECT_EQ(j["node"]["id"], "123");
  EXPECT_EQ(j["node"]["metadata"]["a"], 1);
  EXPECT_EQ(j["node"]["metadata"]["b"], "1");
  EXPECT_EQ(j["node"]["metadata"]["c"], true);
  EXPECT_EQ(j["node"]["metadata"]["d"], 1.5);
  EXPECT_TRUE(j["node"]["metadata"]["e"].is_null());
  EXPECT_EQ(j["admin"]["address"]["socket_address"]["port_value"], 9901);
}

TEST(YamlToJsonTest, TypesFieldsInsideAnyByTheirType) {
  const json j = Convert(R"Y(
static_resources:
  listeners:
  - filter_chains:
    - filters:
      - typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: 42
          xff_num_trusted_hops: 2
          use_remote_address: true
          stream_idle_timeout: 5s
)Y");
  const json& hcm =
      j["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
  EXPECT_EQ(hcm["stat_prefix"], "42");
  EXPECT_EQ(hcm["xff_num_trusted_hops"], 2);
  EXPECT_EQ(hcm["use_remote_address"], true);  // BoolValue wrapper: a bare bool
  EXPECT_EQ(hcm["stream_idle_timeout"], "5s");
}

TEST(YamlToJsonTest, RefusesAnyOfUnknownTypeWithPath) {
  auto out = YamlToJson(R"Y(
static_resources:
  listeners:
  - filter_chains:
    - filters:
      - typed_config: {"@type": type.googleapis.com/no.such.Type}
)Y",
                        *envoy::config::bootstrap::v3::Bootstrap::descriptor());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config: unsupported "
            "extension 'no.such.Type'");
}

TEST(YamlToJsonTest, RefusesNonMappingDocuments) {
  EXPECT_FALSE(
      YamlToJson("- a\n- b\n", *envoy::config::bootstrap::v3::Bootstrap::descriptor()).ok());
  EXPECT_FALSE(YamlToJson("", *envoy::config::bootstrap::v3::Bootstrap::descriptor()).ok());
}

}  // namespace
}  // namespace weft::config
