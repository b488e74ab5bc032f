#include "proxy/router/router.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

namespace weft::router {
namespace {

VirtualHost Host(std::string name, std::vector<std::string> domains) {
  VirtualHost vh;
  vh.name = std::move(name);
  vh.domains = std::move(domains);
  Route route;
  route.name = vh.name + "-route";
  route.action = RouteAction{.cluster = vh.name};
  vh.routes.push_back(std::move(route));
  return vh;
}

std::shared_ptr<const RouteTable> Build(std::vector<VirtualHost> hosts) {
  auto config = std::make_shared<RouteConfiguration>();
  config->virtual_hosts = std::move(hosts);
  auto table = RouteTable::Create(config);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *table : nullptr;
}

std::string Select(const RouteTable& table, std::string_view authority) {
  const VirtualHostEntry* vh = table.FindVirtualHost(authority);
  return vh == nullptr ? "<none>" : vh->config->name;
}

TEST(VirtualHostSelectionTest, ExactBeatsWildcardsAndDefault) {
  auto table = Build({Host("exact", {"api.example.com"}), Host("suffix", {"*.example.com"}),
                      Host("prefix", {"api.*"}), Host("default", {"*"})});
  EXPECT_EQ(Select(*table, "api.example.com"), "exact");
  EXPECT_EQ(Select(*table, "www.example.com"), "suffix");
  EXPECT_EQ(Select(*table, "api.other.org"), "prefix");
  EXPECT_EQ(Select(*table, "nothing.org"), "default");
}

TEST(VirtualHostSelectionTest, LongestSuffixThenLongestPrefix) {
  auto table = Build({Host("short-suffix", {"*.foo.com"}), Host("long-suffix", {"*-bar.foo.com"}),
                      Host("short-prefix", {"foo.*"}), Host("long-prefix", {"foo.bar.*"})});
  EXPECT_EQ(Select(*table, "baz-bar.foo.com"), "long-suffix");
  EXPECT_EQ(Select(*table, "baz.foo.com"), "short-suffix");
  EXPECT_EQ(Select(*table, "foo.bar.net"), "long-prefix");
  EXPECT_EQ(Select(*table, "foo.qux.net"), "short-prefix");
  // Suffix wildcards are tried before prefix wildcards.
  EXPECT_EQ(Select(*table, "foo.x.foo.com"), "short-suffix");
  // The '*' must cover at least one character.
  EXPECT_EQ(Select(*table, ".foo.com"), "<none>");
  EXPECT_EQ(Select(*table, "foo."), "<none>");
}

TEST(VirtualHostSelectionTest, CaseInsensitive) {
  auto table = Build({Host("exact", {"API.Example.com"}), Host("suffix", {"*.Foo.COM"})});
  EXPECT_EQ(Select(*table, "api.EXAMPLE.com"), "exact");
  EXPECT_EQ(Select(*table, "X.FOO.com"), "suffix");
}

TEST(VirtualHostSelectionTest, PortFirstThenWithoutPort) {
  auto table = Build({Host("with-port", {"a.com:8080"}), Host("no-port", {"a.com"}),
                      Host("wild", {"*.b.com"}), Host("v6", {"[::1]"}),
                      Host("v6-port", {"[::1]:9000"}), Host("default", {"*"})});
  EXPECT_EQ(Select(*table, "a.com:8080"), "with-port");
  EXPECT_EQ(Select(*table, "a.com:9090"), "no-port");
  EXPECT_EQ(Select(*table, "a.com"), "no-port");
  EXPECT_EQ(Select(*table, "x.b.com:443"), "wild");
  EXPECT_EQ(Select(*table, "[::1]:80"), "v6");
  EXPECT_EQ(Select(*table, "[::1]:9000"), "v6-port");
  EXPECT_EQ(Select(*table, "[::1]"), "v6");
  EXPECT_EQ(Select(*table, "c.com:80"), "default");
}

TEST(VirtualHostSelectionTest, NoDefaultMeansNoHost) {
  auto table = Build({Host("only", {"a.com"})});
  EXPECT_EQ(Select(*table, "b.com"), "<none>");
}

TEST(VirtualHostSelectionTest, DuplicateDomainsRefused) {
  auto config = std::make_shared<RouteConfiguration>();
  config->virtual_hosts = {Host("one", {"a.com"}), Host("two", {"A.com"})};
  EXPECT_FALSE(RouteTable::Create(config).ok());
  config->virtual_hosts = {Host("one", {"*"}), Host("two", {"*"})};
  EXPECT_FALSE(RouteTable::Create(config).ok());
  config->virtual_hosts = {Host("one", {"*.a.com"}), Host("two", {"*.a.com"})};
  EXPECT_FALSE(RouteTable::Create(config).ok());
}

TEST(AuthorityPortStartTest, Forms) {
  EXPECT_EQ(AuthorityPortStart("a.com:80"), 5u);
  EXPECT_EQ(AuthorityPortStart("[::1]:80"), 5u);
  EXPECT_EQ(AuthorityPortStart("[::1]"), std::string_view::npos);
  EXPECT_EQ(AuthorityPortStart("::1"), std::string_view::npos);
  EXPECT_EQ(AuthorityPortStart("a.com:"), std::string_view::npos);
  EXPECT_EQ(AuthorityPortStart("a.com:8x"), std::string_view::npos);
}

http::HeaderMap Request(std::string authority, std::string path, std::string method = "GET") {
  http::HeaderMap headers;
  headers.Add(":method", std::move(method));
  headers.Add(":path", std::move(path));
  headers.Add(":authority", std::move(authority));
  headers.Add(":scheme", "http");
  return headers;
}

TEST(RouteTableTest, FirstMatchingRouteWins) {
  VirtualHost vh;
  vh.name = "vh";
  vh.domains = {"*"};
  Route api;
  api.name = "api";
  api.match.path = "/api";
  api.action = RouteAction{.cluster = "api"};
  Route catch_all;
  catch_all.name = "all";
  catch_all.match.path = "/";
  catch_all.action = RouteAction{.cluster = "web"};
  Route never;  // shadowed by catch_all
  never.name = "never";
  never.match.path = "/api";
  never.action = RouteAction{.cluster = "never"};
  vh.routes = {api, catch_all, never};
  auto table = Build({vh});
  const RouteEntry* entry = table->Route(Request("x", "/api/users"));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->route->name, "api");
  EXPECT_EQ(entry->virtual_host->config->name, "vh");
  entry = table->Route(Request("x", "/home"));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->route->name, "all");
  ASSERT_NE(entry->action(), nullptr);
  EXPECT_EQ(entry->action()->cluster, "web");
}

TEST(RouteTableTest, NoRouteWhenNothingMatches) {
  VirtualHost vh = Host("vh", {"*"});
  std::get<RouteAction>(vh.routes[0].action).cluster = "c";
  vh.routes[0].match.path_kind = RouteMatch::PathKind::kPath;
  vh.routes[0].match.path = "/exact";
  auto table = Build({vh});
  EXPECT_EQ(table->Route(Request("x", "/other")), nullptr);
  EXPECT_NE(table->Route(Request("x", "/exact?q=1")), nullptr);
}

TEST(RouteTableTest, WeightedClusterPickIsDeterministic) {
  RouteAction action;
  action.weighted_clusters = {{"a", 10, {}}, {"b", 30, {}}, {"c", 60, {}}};
  action.total_weight = 100;
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 0), 0);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 9), 0);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 10), 1);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 39), 1);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 40), 2);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 99), 2);
  EXPECT_EQ(RouteTable::PickWeightedCluster(action, 100), 0);  // reduced modulo total
  RouteAction single;
  single.cluster = "x";
  EXPECT_EQ(RouteTable::PickWeightedCluster(single, 5), -1);
}

}  // namespace
}  // namespace weft::router
