#include "proxy/filters/cors.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "proxy/router/router.h"

namespace weft::filters {
namespace {

router::StringMatcher Exact(std::string value) {
  router::StringMatcher m;
  m.value = std::move(value);
  return m;
}

router::StringMatcher Regex(std::string pattern) {
  router::StringMatcher m;
  m.kind = router::StringMatcher::Kind::kRegex;
  m.regex = std::make_shared<const re2::RE2>(pattern);
  m.value = std::move(pattern);
  return m;
}

http::HeaderMap Headers(std::initializer_list<std::pair<std::string, std::string>> fields) {
  http::HeaderMap h;
  for (const auto& [name, value] : fields) h.Add(name, value);
  return h;
}

// One virtual host with one forwarding route; policies are attached per test.
struct RouteFixture {
  router::VirtualHost host;
  router::Route route;
  router::VirtualHostEntry host_entry;
  router::RouteEntry entry;

  RouteFixture() {
    route.action = router::RouteAction{};
    host_entry.config = &host;
    entry.route = &route;
    entry.virtual_host = &host_entry;
  }
  router::RouteAction& action() { return std::get<router::RouteAction>(route.action); }
};

std::shared_ptr<router::CorsPolicy> Policy() { return std::make_shared<router::CorsPolicy>(); }

TEST(CorsPolicyChainTest, EachFieldComesFromTheMostSpecificPolicyThatSetsIt) {
  RouteFixture f;
  auto on_host = Policy();
  on_host->allow_origin_string_match = {Exact("https://a.test")};
  on_host->allow_methods = "GET";
  on_host->max_age = "60";
  on_host->allow_credentials = true;
  auto on_route = Policy();
  on_route->allow_methods = "PUT";
  on_route->allow_credentials = false;
  f.host.per_filter_config["cors"] = on_host;
  f.route.per_filter_config["cors"] = on_route;

  const CorsPolicyChain chain = FindCorsPolicies(f.entry, "cors");
  EXPECT_EQ(chain.levels[0], on_route.get());
  EXPECT_EQ(chain.levels[1], on_host.get());
  EXPECT_EQ(chain.allow_methods(), "PUT");
  EXPECT_EQ(chain.max_age(), "60");
  EXPECT_FALSE(chain.allow_credentials());  // an explicit false on the route wins
  EXPECT_EQ(chain.allow_origins().size(), 1u);
  EXPECT_TRUE(chain.forward_not_matching_preflights());  // Envoy's default
  EXPECT_FALSE(chain.allow_private_network_access());
  EXPECT_EQ(chain.expose_headers(), "");
}

TEST(CorsPolicyChainTest, LooksUpTheFilterByItsConfiguredName) {
  RouteFixture f;
  f.host.per_filter_config["my-cors"] = Policy();
  EXPECT_TRUE(FindCorsPolicies(f.entry, "envoy.filters.http.cors").empty());
  EXPECT_FALSE(FindCorsPolicies(f.entry, "my-cors").empty());
}

TEST(CorsPolicyChainTest, DeprecatedFieldsOnlyWithoutTypedPerFilterConfig) {
  RouteFixture f;
  auto legacy_route = Policy();
  auto legacy_host = Policy();
  f.action().cors = legacy_route;
  f.host.cors = legacy_host;
  CorsPolicyChain chain = FindCorsPolicies(f.entry, "cors");
  EXPECT_EQ(chain.levels[0], legacy_route.get());
  EXPECT_EQ(chain.levels[1], legacy_host.get());

  auto typed = Policy();
  f.host.per_filter_config["cors"] = typed;
  chain = FindCorsPolicies(f.entry, "cors");
  EXPECT_EQ(chain.levels[0], typed.get());
  EXPECT_EQ(chain.levels[1], nullptr);
}

TEST(CorsPolicyChainTest, RedirectsAndDirectResponsesHaveNoPolicy) {
  RouteFixture f;
  f.host.per_filter_config["cors"] = Policy();
  f.route.action = router::DirectResponseAction{};
  EXPECT_TRUE(FindCorsPolicies(f.entry, "cors").empty());
  f.route.action = router::RedirectAction{};
  EXPECT_TRUE(FindCorsPolicies(f.entry, "cors").empty());
}

TEST(CorsOriginTest, MatchesAnyConfiguredMatcher) {
  router::CorsPolicy p;
  p.allow_origin_string_match = {Exact("https://a.test"), Regex(R"(https://[a-z]+\.b\.test)")};
  CorsPolicyChain chain;
  chain.levels[0] = &p;
  EXPECT_TRUE(IsOriginAllowed(chain, "https://a.test"));
  EXPECT_TRUE(IsOriginAllowed(chain, "https://x.b.test"));
  EXPECT_FALSE(IsOriginAllowed(chain, "https://x.b.test.evil"));  // regexes match in full
  EXPECT_FALSE(IsOriginAllowed(chain, "http://a.test"));
  EXPECT_FALSE(IsOriginAllowed(chain, "https://A.test"));  // exact is case-sensitive

  router::CorsPolicy none;
  chain.levels[0] = &none;
  EXPECT_FALSE(IsOriginAllowed(chain, "https://a.test"));
}

TEST(CorsOriginTest, AMatcherAcceptingStarAllowsEveryOrigin) {
  router::CorsPolicy p;
  router::StringMatcher prefix;
  prefix.kind = router::StringMatcher::Kind::kPrefix;
  prefix.value = "*";
  p.allow_origin_string_match = {prefix};
  CorsPolicyChain chain;
  chain.levels[0] = &p;
  EXPECT_TRUE(IsOriginAllowed(chain, "https://anything.test"));
}

TEST(CorsHeadersTest, PreflightDetection) {
  EXPECT_TRUE(
      IsPreflight(Headers({{":method", "OPTIONS"}, {"access-control-request-method", "PUT"}})));
  EXPECT_FALSE(IsPreflight(Headers({{":method", "OPTIONS"}})));
  EXPECT_FALSE(
      IsPreflight(Headers({{":method", "OPTIONS"}, {"access-control-request-method", ""}})));
  EXPECT_FALSE(
      IsPreflight(Headers({{":method", "GET"}, {"access-control-request-method", "PUT"}})));
}

TEST(CorsHeadersTest, PreflightAnswer) {
  router::CorsPolicy p;
  p.allow_methods = "GET, PUT";
  p.allow_headers = "x-a";
  p.max_age = "600";
  p.allow_credentials = true;
  CorsPolicyChain chain;
  chain.levels[0] = &p;
  const auto request = Headers({{":method", "OPTIONS"}, {"access-control-request-method", "PUT"}});

  http::HeaderMap allowed;
  AddPreflightResponseHeaders(chain, request, "https://a.test", allowed);
  EXPECT_EQ(allowed.GetOr("access-control-allow-origin"), "https://a.test");
  EXPECT_EQ(allowed.GetOr("access-control-allow-methods"), "GET, PUT");
  EXPECT_EQ(allowed.GetOr("access-control-allow-headers"), "x-a");
  EXPECT_EQ(allowed.GetOr("access-control-max-age"), "600");
  EXPECT_EQ(allowed.GetOr("access-control-allow-credentials"), "true");
  EXPECT_FALSE(allowed.Has("access-control-expose-headers"));  // actual responses only

  // A preflight from another origin that is answered (not forwarded) gets no allow-origin.
  http::HeaderMap denied;
  AddPreflightResponseHeaders(chain, request, "", denied);
  EXPECT_FALSE(denied.Has("access-control-allow-origin"));
  EXPECT_EQ(denied.GetOr("access-control-allow-methods"), "GET, PUT");
}

TEST(CorsHeadersTest, PreflightWildcardsEchoTheRequest) {
  router::CorsPolicy p;
  p.allow_methods = "*";
  p.allow_headers = "*";
  p.allow_private_network_access = true;
  CorsPolicyChain chain;
  chain.levels[0] = &p;
  const auto request = Headers({{":method", "OPTIONS"},
                                {"access-control-request-method", "DELETE"},
                                {"access-control-request-headers", "x-a, x-b"},
                                {"access-control-request-private-network", "true"}});
  http::HeaderMap response;
  AddPreflightResponseHeaders(chain, request, "https://a.test", response);
  EXPECT_EQ(response.GetOr("access-control-allow-methods"), "DELETE");
  EXPECT_EQ(response.GetOr("access-control-allow-headers"), "x-a, x-b");
  EXPECT_EQ(response.GetOr("access-control-allow-private-network"), "true");
  EXPECT_FALSE(response.Has("access-control-allow-credentials"));
  EXPECT_FALSE(response.Has("access-control-max-age"));
}

TEST(CorsHeadersTest, ActualResponseReplacesUpstreamValues) {
  router::CorsPolicy p;
  p.expose_headers = "x-trace";
  p.allow_credentials = true;
  CorsPolicyChain chain;
  chain.levels[0] = &p;
  auto response = Headers({{":status", "200"}, {"access-control-allow-origin", "*"}});
  AddCorsResponseHeaders(chain, "https://a.test", response);
  EXPECT_EQ(response.GetJoined("access-control-allow-origin"), "https://a.test");
  EXPECT_EQ(response.GetOr("access-control-allow-credentials"), "true");
  EXPECT_EQ(response.GetOr("access-control-expose-headers"), "x-trace");
}

// The filter's collaborators, enough for one request; what it answers is recorded.
class FakeCallbacks : public FilterCallbacks {
 public:
  event::Dispatcher& dispatcher() override { std::abort(); }
  Random& random() override { return random_; }
  stats::Store& stats() override { return stats_; }
  const std::string& stat_prefix() override { return prefix_; }
  access_log::StreamInfo& info() override { return info_; }
  const router::RouteFilterConfig* PerRouteConfig(std::string_view) override { return nullptr; }
  const router::RouteEntry* route() override { return route_; }
  void ContinueDecoding() override {}
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details, uint64_t,
                      std::optional<uint32_t>) override {
    replied_status = status;
    replied_details = std::string(details);
    EXPECT_TRUE(body.empty());
  }

  FastRandom random_{1};
  stats::Store stats_;
  std::string prefix_ = "http.in.";
  access_log::StreamInfo info_;
  const router::RouteEntry* route_ = nullptr;
  uint32_t replied_status = 0;
  std::string replied_details;
};

class CorsFilterTest : public ::testing::Test {
 protected:
  CorsFilterTest() : factory_(CreateCorsFilterFactory("cors", "http.in.")) {
    auto policy = Policy();
    policy->allow_origin_string_match = {Exact("https://a.test")};
    policy->expose_headers = "x-trace";
    fixture_.host.per_filter_config["cors"] = policy;
    callbacks_.route_ = &fixture_.entry;
  }
  std::unique_ptr<StreamFilter> Create(http::HeaderMap& request) {
    callbacks_.info_.request_headers = &request;
    return factory_->Create(callbacks_);
  }
  uint64_t Count(std::string_view name) { return callbacks_.stats_.counter(name).value(); }

  RouteFixture fixture_;
  FakeCallbacks callbacks_;
  std::unique_ptr<FilterFactory> factory_;
};

TEST_F(CorsFilterTest, NoFilterWithoutOriginOrPolicy) {
  auto plain = Headers({{":method", "GET"}, {":path", "/"}});
  EXPECT_EQ(Create(plain), nullptr);
  auto empty_origin = Headers({{":method", "GET"}, {"origin", ""}});
  EXPECT_EQ(Create(empty_origin), nullptr);
  auto with_origin = Headers({{":method", "GET"}, {"origin", "https://a.test"}});
  callbacks_.route_ = nullptr;
  EXPECT_EQ(Create(with_origin), nullptr);
  callbacks_.route_ = &fixture_.entry;
  EXPECT_NE(Create(with_origin), nullptr);
  EXPECT_EQ(Count("http.in.cors.origin_valid") + Count("http.in.cors.origin_invalid"), 0u);
}

TEST_F(CorsFilterTest, AnswersAllowedPreflight) {
  auto request = Headers({{":method", "OPTIONS"},
                          {"origin", "https://a.test"},
                          {"access-control-request-method", "PUT"}});
  auto filter = Create(request);
  ASSERT_NE(filter, nullptr);
  EXPECT_EQ(filter->DecodeHeaders(request, true), FilterStatus::kLocalReplySent);
  EXPECT_EQ(callbacks_.replied_status, 200u);
  EXPECT_EQ(callbacks_.replied_details, "cors_response");
  auto response = Headers({{":status", "200"}});
  filter->EncodeHeaders(response, true);
  EXPECT_EQ(response.GetOr("access-control-allow-origin"), "https://a.test");
  EXPECT_EQ(Count("http.in.cors.origin_valid"), 1u);
}

TEST_F(CorsFilterTest, ForwardsOtherOriginsUntouched) {
  auto request = Headers({{":method", "OPTIONS"},
                          {"origin", "https://evil.test"},
                          {"access-control-request-method", "PUT"}});
  auto filter = Create(request);
  ASSERT_NE(filter, nullptr);
  EXPECT_EQ(filter->DecodeHeaders(request, true), FilterStatus::kContinue);
  EXPECT_EQ(callbacks_.replied_status, 0u);
  auto response = Headers({{":status", "204"}});
  filter->EncodeHeaders(response, true);
  EXPECT_EQ(response.size(), 1u);
  EXPECT_EQ(Count("http.in.cors.origin_invalid"), 1u);
}

TEST_F(CorsFilterTest, ActualRequestGetsHeadersOnItsResponse) {
  auto request = Headers({{":method", "POST"}, {"origin", "https://a.test"}});
  auto filter = Create(request);
  ASSERT_NE(filter, nullptr);
  EXPECT_EQ(filter->DecodeHeaders(request, true), FilterStatus::kContinue);
  auto response = Headers({{":status", "201"}});
  filter->EncodeHeaders(response, true);
  EXPECT_EQ(response.GetOr("access-control-allow-origin"), "https://a.test");
  EXPECT_EQ(response.GetOr("access-control-expose-headers"), "x-trace");
  EXPECT_FALSE(response.Has("access-control-allow-credentials"));
}

TEST_F(CorsFilterTest, DisabledFilterDoesNothingAndShadowOnlyCounts) {
  auto policy = Policy();
  policy->allow_origin_string_match = {Exact("https://a.test")};
  policy->filter_enabled = router::FractionalPercent{0, 100};
  fixture_.route.per_filter_config["cors"] = policy;
  auto request = Headers({{":method", "OPTIONS"},
                          {"origin", "https://a.test"},
                          {"access-control-request-method", "PUT"}});
  auto filter = Create(request);
  EXPECT_EQ(filter->DecodeHeaders(request, true), FilterStatus::kContinue);
  EXPECT_EQ(Count("http.in.cors.origin_valid"), 0u);

  auto shadow = Policy();
  *shadow = *policy;
  shadow->shadow_enabled = router::FractionalPercent{100, 100};
  fixture_.route.per_filter_config["cors"] = shadow;
  filter = Create(request);
  EXPECT_EQ(filter->DecodeHeaders(request, true), FilterStatus::kContinue);
  EXPECT_EQ(Count("http.in.cors.origin_valid"), 1u);
  auto response = Headers({{":status", "200"}});
  filter->EncodeHeaders(response, true);
  EXPECT_FALSE(response.Has("access-control-allow-origin"));
}

}  // namespace
}  // namespace weft::filters
