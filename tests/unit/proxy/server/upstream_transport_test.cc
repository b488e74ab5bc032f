// Which transport socket a host connects with: Envoy's transport_socket_matches rules.
#include "proxy/cluster_manager/upstream_transport.h"

#include <gtest/gtest.h>

namespace weft::cluster {
namespace {

upstream::ClusterConfig WithMatches() {
  upstream::ClusterConfig c;
  c.transport_socket_matches.push_back({"tlsMode-istio", {{"tlsMode", "\"istio\""}}, nullptr});
  c.transport_socket_matches.push_back(
      {"two-fields", {{"tlsMode", "\"other\""}, {"zone", "\"a\""}}, nullptr});
  c.transport_socket_matches.push_back({"catch-all", {}, nullptr});
  return c;
}

TEST(UpstreamTransportTest, FirstMatchWhoseFieldsAllEqualTheEndpointsWins) {
  const upstream::ClusterConfig c = WithMatches();
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"tlsMode", "\"istio\""}}), 0);
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"tlsMode", "\"istio\""}, {"zone", "\"a\""}}), 0);
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"tlsMode", "\"other\""}, {"zone", "\"a\""}}), 1);
  // One field of two is not enough; the empty match takes everything left.
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"tlsMode", "\"other\""}}), 2);
  EXPECT_EQ(SelectTransportSocketMatch(c, {}), 2);
}

TEST(UpstreamTransportTest, NoMatchMeansTheClustersTransportSocket) {
  upstream::ClusterConfig c = WithMatches();
  c.transport_socket_matches.pop_back();
  EXPECT_EQ(SelectTransportSocketMatch(c, {}), -1);
  // JSON text compares values with their types: the string "1" is not the number 1.
  c.transport_socket_matches.push_back({"number", {{"v", "1"}}, nullptr});
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"v", "\"1\""}}), -1);
  EXPECT_EQ(SelectTransportSocketMatch(c, {{"v", "1"}}), 2);
}

}  // namespace
}  // namespace weft::cluster
