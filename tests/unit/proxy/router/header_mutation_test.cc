#include "proxy/router/header_mutation.h"

#include <gtest/gtest.h>

#include "proxy/router/router.h"

namespace weft::router {
namespace {

using Action = HeaderValueOption::AppendAction;

std::vector<std::string> Values(const http::HeaderMap& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& f : headers) {
    if (f.name == name) out.push_back(f.value);
  }
  return out;
}

HeaderMutator Compile(const HeaderMutations& config) {
  auto mutator = HeaderMutator::Compile(config);
  EXPECT_TRUE(mutator.ok()) << mutator.status();
  return *std::move(mutator);
}

TEST(HeaderMutationTest, FourAppendActions) {
  HeaderMutations config;
  config.request_headers_to_add = {
      {"x-append", "new", Action::kAppendIfExistsOrAdd, false},
      {"x-add-absent", "new", Action::kAddIfAbsent, false},
      {"x-add-absent-missing", "new", Action::kAddIfAbsent, false},
      {"x-overwrite", "new", Action::kOverwriteIfExistsOrAdd, false},
      {"x-overwrite-missing", "new", Action::kOverwriteIfExistsOrAdd, false},
      {"x-overwrite-if", "new", Action::kOverwriteIfExists, false},
      {"x-overwrite-if-missing", "new", Action::kOverwriteIfExists, false},
  };
  HeaderMutator mutator = Compile(config);
  http::HeaderMap headers;
  for (const char* name : {"x-append", "x-add-absent", "x-overwrite", "x-overwrite-if"}) {
    headers.Add(name, "old");
  }
  access_log::StreamInfo info;
  mutator.ApplyToRequest(headers, info);
  EXPECT_EQ(Values(headers, "x-append"), (std::vector<std::string>{"old", "new"}));
  EXPECT_EQ(Values(headers, "x-add-absent"), std::vector<std::string>{"old"});
  EXPECT_EQ(Values(headers, "x-add-absent-missing"), std::vector<std::string>{"new"});
  EXPECT_EQ(Values(headers, "x-overwrite"), std::vector<std::string>{"new"});
  EXPECT_EQ(Values(headers, "x-overwrite-missing"), std::vector<std::string>{"new"});
  EXPECT_EQ(Values(headers, "x-overwrite-if"), std::vector<std::string>{"new"});
  EXPECT_TRUE(Values(headers, "x-overwrite-if-missing").empty());
}

TEST(HeaderMutationTest, RemoveBeforeAddAndVariables) {
  HeaderMutations config;
  config.request_headers_to_remove = {"x-client", "x-gone"};
  config.request_headers_to_add = {
      {"x-client", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%", Action::kAppendIfExistsOrAdd, false},
      {"x-peer", "%DOWNSTREAM_REMOTE_ADDRESS%", Action::kAppendIfExistsOrAdd, false},
      {"x-local", "%DOWNSTREAM_LOCAL_ADDRESS%", Action::kAppendIfExistsOrAdd, false},
      {"x-proto", "%PROTOCOL% 100%%", Action::kAppendIfExistsOrAdd, false},
      {"x-copy", "ua=%REQ(user-agent)%", Action::kAppendIfExistsOrAdd, false},
      {"x-upstream", "%UPSTREAM_REMOTE_ADDRESS%", Action::kAppendIfExistsOrAdd, false},
      {"x-upstream-kept", "%UPSTREAM_REMOTE_ADDRESS%", Action::kAppendIfExistsOrAdd, true},
      {"x-started", "%START_TIME(%s)%", Action::kAppendIfExistsOrAdd, false},
      {"x-host", "%HOSTNAME%", Action::kAppendIfExistsOrAdd, false},
  };
  HeaderMutator mutator = Compile(config);
  http::HeaderMap headers;
  headers.Add("x-client", "spoofed");
  headers.Add("x-gone", "1");
  headers.Add("user-agent", "curl");
  access_log::StreamInfo info;
  info.request_headers = &headers;
  info.protocol = "HTTP/2";
  info.downstream_remote_address = "10.0.0.1:5000";
  info.downstream_local_address = "10.0.0.2:80";
  info.start_time = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  mutator.ApplyToRequest(headers, info);
  EXPECT_EQ(Values(headers, "x-client"), std::vector<std::string>{"10.0.0.1"});
  EXPECT_FALSE(headers.Has("x-gone"));
  EXPECT_EQ(headers.GetOr("x-peer"), "10.0.0.1:5000");
  EXPECT_EQ(headers.GetOr("x-local"), "10.0.0.2:80");
  EXPECT_EQ(headers.GetOr("x-proto"), "HTTP/2 100%");
  EXPECT_EQ(headers.GetOr("x-copy"), "ua=curl");
  EXPECT_FALSE(headers.Has("x-upstream"));  // empty value, keep_empty_value=false
  ASSERT_TRUE(headers.Has("x-upstream-kept"));
  EXPECT_EQ(headers.GetOr("x-upstream-kept"), "");
  EXPECT_EQ(headers.GetOr("x-started"), "1700000000");
  EXPECT_FALSE(headers.GetOr("x-host").empty());
}

TEST(HeaderMutationTest, BadVariableRefused) {
  HeaderMutations config;
  config.response_headers_to_add = {{"x", "%NOT_A_VARIABLE%", Action::kAppendIfExistsOrAdd, false}};
  EXPECT_FALSE(HeaderMutator::Compile(config).ok());
}

// One route configuration with the same header overwritten at every level.
std::shared_ptr<RouteConfiguration> LayeredConfig(bool most_specific_wins) {
  auto level = [](std::string value) {
    HeaderMutations m;
    m.request_headers_to_add = {{"x-level", value, Action::kOverwriteIfExistsOrAdd, false},
                                {"x-trail", value, Action::kAppendIfExistsOrAdd, false}};
    m.response_headers_to_add = {{"x-level", value, Action::kOverwriteIfExistsOrAdd, false}};
    return m;
  };
  auto config = std::make_shared<RouteConfiguration>();
  config->most_specific_header_mutations_wins = most_specific_wins;
  config->headers = level("config");
  VirtualHost vh;
  vh.name = "vh";
  vh.domains = {"*"};
  vh.headers = level("vhost");
  Route route;
  route.headers = level("route");
  RouteAction action;
  action.weighted_clusters = {{"a", 1, level("cluster")}};
  action.total_weight = 1;
  route.action = action;
  vh.routes.push_back(route);
  config->virtual_hosts.push_back(vh);
  return config;
}

TEST(HeaderMutationTest, LeastSpecificWinsByDefault) {
  auto table = RouteTable::Create(LayeredConfig(false));
  ASSERT_TRUE(table.ok()) << table.status();
  http::HeaderMap request;
  request.Add(":path", "/");
  request.Add(":authority", "a");
  const RouteEntry* entry = (*table)->Route(request);
  ASSERT_NE(entry, nullptr);
  access_log::StreamInfo info;
  (*table)->ApplyRequestHeaderMutations(*entry, 0, request, info);
  EXPECT_EQ(request.GetOr("x-level"), "config");
  EXPECT_EQ(Values(request, "x-trail"),
            (std::vector<std::string>{"cluster", "route", "vhost", "config"}));
  http::HeaderMap response;
  (*table)->ApplyResponseHeaderMutations(*entry, 0, response, info);
  EXPECT_EQ(response.GetOr("x-level"), "config");
}

TEST(HeaderMutationTest, MostSpecificWinsWhenConfigured) {
  auto table = RouteTable::Create(LayeredConfig(true));
  ASSERT_TRUE(table.ok());
  http::HeaderMap request;
  request.Add(":path", "/");
  request.Add(":authority", "a");
  const RouteEntry* entry = (*table)->Route(request);
  ASSERT_NE(entry, nullptr);
  access_log::StreamInfo info;
  (*table)->ApplyRequestHeaderMutations(*entry, 0, request, info);
  EXPECT_EQ(request.GetOr("x-level"), "cluster");
  EXPECT_EQ(Values(request, "x-trail"),
            (std::vector<std::string>{"config", "vhost", "route", "cluster"}));
  // Without a picked weighted cluster the route level is the most specific.
  http::HeaderMap response;
  (*table)->ApplyResponseHeaderMutations(*entry, -1, response, info);
  EXPECT_EQ(response.GetOr("x-level"), "route");
}

}  // namespace
}  // namespace weft::router
