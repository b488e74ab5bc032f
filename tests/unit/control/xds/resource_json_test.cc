// The debug API's JSON of served resources: Envoy's field names, "@type", nested Anys expanded.
#include "control/xds/resource_json.h"

#include <google/protobuf/any.pb.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace weft::control::xds {
namespace {

using nlohmann::json;

template <typename Message>
std::string Pack(const Message& m) {
  google::protobuf::Any any;
  any.PackFrom(m);
  return any.SerializeAsString();
}

TEST(ResourceJsonTest, ClusterKeepsProtoFieldNames) {
  envoy::config::cluster::v3::Cluster c;
  c.set_name("outbound|9080|v1|reviews.default.svc.cluster.local");
  c.set_type(envoy::config::cluster::v3::Cluster::EDS);
  c.mutable_connect_timeout()->set_seconds(10);
  auto text = ResourceToJson(Pack(c));
  ASSERT_TRUE(text.ok()) << text.status();
  json j = json::parse(*text);
  EXPECT_EQ(j["@type"], "type.googleapis.com/envoy.config.cluster.v3.Cluster");
  EXPECT_EQ(j["name"], "outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(j["type"], "EDS");
  EXPECT_EQ(j["connect_timeout"], "10s");  // not "connectTimeout"
}

TEST(ResourceJsonTest, NestedTypedConfigIsExpanded) {
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
  hcm.set_stat_prefix("outbound_0.0.0.0_9080");
  hcm.mutable_rds()->set_route_config_name("9080");
  envoy::config::listener::v3::Listener l;
  l.set_name("0.0.0.0_9080");
  auto* sa = l.mutable_address()->mutable_socket_address();
  sa->set_address("0.0.0.0");
  sa->set_port_value(9080);
  auto* f = l.add_filter_chains()->add_filters();
  f->set_name("envoy.filters.network.http_connection_manager");
  f->mutable_typed_config()->PackFrom(hcm);
  auto text = ResourceToJson(Pack(l));
  ASSERT_TRUE(text.ok()) << text.status();
  json j = json::parse(*text);
  EXPECT_EQ(j["address"]["socket_address"]["port_value"], 9080);
  const json& tc = j["filter_chains"][0]["filters"][0]["typed_config"];
  EXPECT_EQ(tc["@type"],
            "type.googleapis.com/"
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager");
  EXPECT_EQ(tc["rds"]["route_config_name"], "9080");
}

TEST(ResourceJsonTest, GarbageAndUnknownTypesAreErrors) {
  EXPECT_FALSE(ResourceToJson("\xff\xff\xff").ok());
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/not.a.Type");
  any.set_value("x");
  auto text = ResourceToJson(any.SerializeAsString());
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("not.a.Type"), std::string::npos);
}

}  // namespace
}  // namespace weft::control::xds
