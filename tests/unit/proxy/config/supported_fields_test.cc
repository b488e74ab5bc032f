#include "proxy/config/supported_fields.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_split.h"
#include "envoy/config/bootstrap/v3/bootstrap.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "proxy/config/known_extensions.h"
#include "proxy/config/translate.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

namespace pb = google::protobuf;

// The table is data typed by hand: every entry must name a real message and real fields, or a
// typo would silently refuse (or fail to refuse) a field.
TEST(SupportedFieldsTest, TableNamesRealMessagesAndFields) {
  LinkExtensionTypes();
  (void)envoy::config::bootstrap::v3::Bootstrap::descriptor();
  for (const SupportedFields& entry : SupportedFieldsTable()) {
    const pb::Descriptor* desc =
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(entry.message));
    ASSERT_NE(desc, nullptr) << entry.message;
    const absl::string_view fields(entry.fields.data(), entry.fields.size());
    for (absl::string_view field : absl::StrSplit(fields, ' ', absl::SkipEmpty())) {
      EXPECT_NE(desc->FindFieldByName(std::string(field)), nullptr)
          << entry.message << "." << field;
    }
  }
}

TEST(SupportedFieldsTest, EveryKnownExtensionIsLinked) {
  LinkExtensionTypes();
  for (const KnownExtension& ext : KnownExtensions()) {
    // Istio's stats.PluginConfig has no proto in the tree: it comes in a TypedStruct.
    if (ext.type_name == "stats.PluginConfig") continue;
    // Nor has Istio's MetadataExchange (translate_metadata_exchange.h reads it by hand).
    if (ext.type_name == "envoy.tcp.metadataexchange.config.MetadataExchange") continue;
    EXPECT_NE(
        pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(ext.type_name)),
        nullptr)
        << ext.type_name;
  }
}

TEST(SupportedFieldsTest, AcceptsSupportedAndRefusesTheRestWithPath) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("c");
  cluster.mutable_connect_timeout()->set_seconds(1);
  EXPECT_TRUE(CheckSupportedFields(cluster, "clusters[3]").ok());

  cluster.mutable_upstream_bind_config();  // set, even if empty: refused
  EXPECT_EQ(CheckSupportedFields(cluster, "clusters[3]").message(),
            "clusters[3].upstream_bind_config: not supported");
}

TEST(SupportedFieldsTest, WalksIntoNestedAndRepeatedMessages) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("c");
  auto* endpoint = cluster.mutable_load_assignment()->add_endpoints()->add_lb_endpoints();
  endpoint->mutable_endpoint()->mutable_health_check_config()->set_port_value(1);
  EXPECT_EQ(CheckSupportedFields(cluster, "").message(),
            "load_assignment.endpoints[0].lb_endpoints[0].endpoint.health_check_config: not "
            "supported");
}

TEST(SupportedFieldsTest, RefusesUnknownAnyTypes) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("c");
  pb::Any any;
  // A real type Weft has no extension for.
  any.PackFrom(envoy::config::core::v3::Address());
  (*cluster.mutable_typed_extension_protocol_options())["x"] = any;
  EXPECT_EQ(CheckSupportedFields(cluster, "").message(),
            "typed_extension_protocol_options[x]: unsupported extension "
            "'envoy.config.core.v3.Address'");
}

TEST(TranslateTest, TranslateClusterChecksSupportedFields) {
  envoy::config::cluster::v3::Cluster cluster;
  cluster.set_name("c");
  cluster.set_ignore_health_on_host_removal(true);
  auto result = TranslateCluster(cluster, "cds[c]");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "cds[c].ignore_health_on_host_removal: not supported");
  cluster.clear_ignore_health_on_host_removal();
  EXPECT_TRUE(TranslateCluster(cluster, "cds[c]").ok());
}

// A listener on 127.0.0.1:15006 with one tcp_proxy filter chain.
envoy::config::listener::v3::Listener TcpListener() {
  envoy::config::listener::v3::Listener listener;
  listener.set_name("l");
  auto* sa = listener.mutable_address()->mutable_socket_address();
  sa->set_address("127.0.0.1");
  sa->set_port_value(15006);
  auto* tcp = listener.add_filter_chains()->add_filters();
  tcp->set_name("envoy.filters.network.tcp_proxy");
  envoy::extensions::filters::network::tcp_proxy::v3::TcpProxy tcp_config;
  tcp_config.set_stat_prefix("t");
  tcp_config.set_cluster("c");
  tcp->mutable_typed_config()->PackFrom(tcp_config);
  return listener;
}

TEST(TranslateTest, ListenerFiltersTimeout) {
  envoy::config::listener::v3::Listener listener = TcpListener();
  auto defaults = TranslateListener(listener, "lds[l]");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->listener_filters_timeout, std::chrono::milliseconds(15000));  // Envoy's
  EXPECT_FALSE(defaults->continue_on_listener_filters_timeout);
  listener.mutable_listener_filters_timeout()->set_nanos(250'000'000);
  listener.set_continue_on_listener_filters_timeout(true);
  auto set = TranslateListener(listener, "lds[l]");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->listener_filters_timeout, std::chrono::milliseconds(250));
  EXPECT_TRUE(set->continue_on_listener_filters_timeout);
}

TEST(TranslateTest, TransportSocketConnectTimeout) {
  envoy::config::listener::v3::Listener listener = TcpListener();
  auto unset = TranslateListener(listener, "lds[l]");
  ASSERT_TRUE(unset.ok()) << unset.status();
  // Envoy's default: no limit.
  EXPECT_EQ(unset->filter_chains[0].transport_socket_connect_timeout.count(), 0);

  auto* timeout = listener.mutable_filter_chains(0)->mutable_transport_socket_connect_timeout();
  timeout->set_seconds(2);
  timeout->set_nanos(500'000'000);
  auto set = TranslateListener(listener, "lds[l]");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->filter_chains[0].transport_socket_connect_timeout,
            std::chrono::milliseconds(2500));

  timeout->set_seconds(-1);
  timeout->set_nanos(0);
  auto negative = TranslateListener(listener, "lds[l]");
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().message(),
            "lds[l].filter_chains[0].transport_socket_connect_timeout: must be a non-negative "
            "duration");
}

}  // namespace
}  // namespace weft::config
