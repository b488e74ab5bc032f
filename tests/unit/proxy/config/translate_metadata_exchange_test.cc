// istio.metadata_exchange in a bootstrap (a listener filter before tcp_proxy and a cluster
// filter, in the forms Istio writes), what is refused, and the exchange frame checked against
// libprotobuf's own encoding of the same Any/Struct.
#include <gmock/gmock.h>
#include <google/protobuf/any.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/config/bootstrap_loader.h"
#include "proxy/filters/istio_peer_metadata.h"

namespace weft::config {
namespace {

using ::testing::HasSubstr;

// Istio's pilot writes both as a TypedStruct (xdsfilters.TCPListenerMx / TCPClusterMx). One
// list item ("- name: ...") whose content starts at column `indent`.
std::string Mx(const std::string& value, int indent) {
  const std::string pad(indent, ' ');
  return std::string(indent - 2, ' ') + "- name: istio.metadata_exchange\n" + pad +
         "typed_config:\n" + pad + "  \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct\n" +
         pad +
         "  type_url: type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange\n" +
         pad + "  value: " + value + "\n";
}

// A bootstrap whose listener chain and cluster get `listener_filter` / `cluster_filter` (each
// a list item, or "").
std::string Bootstrap(const std::string& listener_filter, const std::string& cluster_filter) {
  return R"Y(
static_resources:
  clusters:
  - name: c
    type: STATIC
    load_assignment:
      cluster_name: c
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 9}}}}]}]
)Y" + (cluster_filter.empty() ? std::string() : "    filters:\n" + cluster_filter) +
         R"Y(
  listeners:
  - name: l
    traffic_direction: INBOUND
    address: {socket_address: {address: 127.0.0.1, port_value: 15006}}
    filter_chains:
    - filters:
)Y" + listener_filter +
         R"Y(      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: t
          cluster: c
)Y";
}

constexpr int kListener = 8, kCluster = 6;  // content columns of the two lists

TEST(TranslateMetadataExchangeTest, ListenerAndClusterFilters) {
  const std::string value = "{protocol: istio-peer-exchange, enable_discovery: true}";
  auto b = LoadBootstrapFromString(Bootstrap(Mx(value, kListener), Mx(value, kCluster)));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->listeners.at(0).filter_chains.at(0).metadata_exchange_protocol,
            "istio-peer-exchange");
  EXPECT_EQ(b->clusters.at(0)->metadata_exchange_protocol, "istio-peer-exchange");

  b = LoadBootstrapFromString(Bootstrap("", ""));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->listeners.at(0).filter_chains.at(0).metadata_exchange_protocol, "");
  EXPECT_EQ(b->clusters.at(0)->metadata_exchange_protocol, "");
}

TEST(TranslateMetadataExchangeTest, RefusesWithThePath) {
  auto b = LoadBootstrapFromString(
      Bootstrap(Mx("{protocol: x, additional_labels: [a]}", kListener), ""));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(),
              HasSubstr("filters[0].typed_config.value.additional_labels: not supported"));

  b = LoadBootstrapFromString(Bootstrap("", Mx("{enable_discovery: true}", kCluster)));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("clusters[0].filters[0].typed_config.protocol: "
                                              "is required"));

  b = LoadBootstrapFromString(Bootstrap("", Mx("{protocol: 7}", kCluster)));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("value.protocol: must be a string"));

  // Another extension as a cluster filter.
  b = LoadBootstrapFromString(
      Bootstrap("",
                "    - name: envoy.filters.network.rbac\n      typed_config: {\"@type\": "
                "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC, "
                "stat_prefix: r}\n"));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("clusters[0].filters[0]: "));
}

// The frame weft-proxy writes is, byte for byte, what Istio's filter builds with libprotobuf:
// an Any of a deterministically serialized Struct behind the magic and the size.
TEST(TranslateMetadataExchangeTest, FrameMatchesLibprotobufEncoding) {
  filters::istio::WorkloadMetadata w;
  w.node_id = "sidecar~10.0.0.1~client-v1-abc.default~default.svc.cluster.local";
  w.name = "client-v1-abc";
  w.namespace_ = "default";
  w.workload_name = "client-v1";
  w.service_account = "client";
  w.cluster_id = "Kubernetes";
  w.labels = {{"app", "client"}, {"version", "v1"}};

  google::protobuf::Struct metadata;
  auto set = [](google::protobuf::Struct& s, const std::string& k, const std::string& v) {
    (*s.mutable_fields())[k].set_string_value(v);
  };
  set(metadata, "NAME", w.name);
  set(metadata, "NAMESPACE", w.namespace_);
  set(metadata, "WORKLOAD_NAME", w.workload_name);
  set(metadata, "SERVICE_ACCOUNT", w.service_account);
  set(metadata, "CLUSTER_ID", w.cluster_id);
  auto* labels = (*metadata.mutable_fields())["LABELS"].mutable_struct_value();
  set(*labels, "app", "client");
  set(*labels, "version", "v1");
  google::protobuf::Struct data;
  *(*data.mutable_fields())["x-envoy-peer-metadata"].mutable_struct_value() = metadata;
  set(data, "x-envoy-peer-metadata-id", w.node_id);
  const std::string frame = filters::istio::EncodeMxFrame(w);
  ASSERT_GT(frame.size(), 8u);
  EXPECT_EQ(frame.substr(0, 4), std::string("\x3d\x23\x04\x67", 4));

  // libprotobuf reads ours as the same Any of the same Struct (map order is free on the wire).
  google::protobuf::Any parsed;
  ASSERT_TRUE(parsed.ParseFromString(frame.substr(8)));
  EXPECT_EQ(parsed.type_url(), "type.googleapis.com/google.protobuf.Struct");
  google::protobuf::Struct parsed_data;
  ASSERT_TRUE(parsed.UnpackTo(&parsed_data));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed_data, data))
      << parsed_data.DebugString();

  // And ours reads what libprotobuf writes, as Istio's filter writes it (deterministic).
  std::string data_bytes;
  {
    google::protobuf::io::StringOutputStream out(&data_bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    ASSERT_TRUE(data.SerializeToCodedStream(&coded));
  }
  google::protobuf::Any any;
  any.set_type_url("type.googleapis.com/google.protobuf.Struct");
  any.set_value(data_bytes);
  const std::string any_bytes = any.SerializeAsString();
  std::string istio_frame("\x3d\x23\x04\x67", 4);
  for (int shift = 24; shift >= 0; shift -= 8) {
    istio_frame += static_cast<char>((any_bytes.size() >> shift) & 0xff);
  }
  istio_frame += any_bytes;
  const filters::istio::MxRead read = filters::istio::ReadMxFrame(istio_frame);
  ASSERT_EQ(read.status, filters::istio::MxRead::Status::kDone);
  EXPECT_EQ(read.size, istio_frame.size());
  ASSERT_TRUE(read.peer.has_value());
  EXPECT_EQ(read.peer->node_id, w.node_id);
  EXPECT_EQ(read.peer->workload_name, "client-v1");
  EXPECT_EQ(read.peer->labels, w.labels);
}

}  // namespace
}  // namespace weft::config
