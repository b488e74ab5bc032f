// The envoy.filters.http.rbac filter over engines built with rbac_engine.h's builders: what a
// denied request is answered, the stats, LOG's access_log_hint, shadow metadata and a route's
// RBACPerRoute replacing the rules.
#include "proxy/filters/rbac.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

namespace weft::filters {
namespace {

// Records the local reply; serves per-route configs from a map.
class RecordingCallbacks : public FilterCallbacks {
 public:
  event::Dispatcher& dispatcher() override { std::abort(); }
  Random& random() override { return rng; }
  stats::Store& stats() override { return store; }
  const std::string& stat_prefix() override { return prefix; }
  access_log::StreamInfo& info() override { return stream; }
  const router::RouteFilterConfig* PerRouteConfig(std::string_view name) override {
    auto it = per_route.find(std::string(name));
    return it == per_route.end() ? nullptr : it->second.get();
  }
  const router::RouteEntry* route() override { return nullptr; }
  void ContinueDecoding() override {}
  void SendLocalReply(uint32_t status, std::string_view body, std::string_view details, uint64_t,
                      std::optional<uint32_t>) override {
    reply = {status, std::string(body), std::string(details)};
  }

  struct Reply {
    uint32_t status = 0;
    std::string body, details;
  };
  FastRandom rng{1};
  stats::Store store;
  std::string prefix = "http.in.";
  access_log::StreamInfo stream;
  std::map<std::string, std::shared_ptr<const router::RouteFilterConfig>> per_route;
  Reply reply;
};

// One policy named `name`: permission "method is GET", principal any.
std::shared_ptr<const rbac::RbacEngine> GetOnly(rbac::Action action, std::string name) {
  router::HeaderMatcher method;
  method.name = ":method";
  method.string_match = router::StringMatcher{};
  method.string_match->value = "GET";
  rbac::Policy p;
  p.name = std::move(name);
  p.permissions.push_back(rbac::MatchHeader(method));
  p.principals.push_back(rbac::MatchAny());
  std::vector<rbac::Policy> policies;
  policies.push_back(std::move(p));
  return std::make_shared<const rbac::RbacEngine>(action, std::move(policies));
}

std::shared_ptr<rbac::RbacConfig> Config(std::shared_ptr<const rbac::RbacEngine> rules) {
  auto c = std::make_shared<rbac::RbacConfig>();
  c->rules = std::move(rules);
  rbac::SetRbacStatNames(*c, "http.in.rbac.", "", "");
  return c;
}

class RbacFilterTest : public ::testing::Test {
 protected:
  FilterStatus Run(const std::shared_ptr<const rbac::RbacConfig>& config, std::string method) {
    headers_ = http::HeaderMap();
    headers_.Add(":method", std::move(method));
    headers_.Add(":path", "/");
    auto factory = CreateRbacFilterFactory("envoy.filters.http.rbac", config);
    auto filter = factory->Create(callbacks_);
    return filter->DecodeHeaders(headers_, true);
  }
  uint64_t Count(std::string_view name) { return callbacks_.store.counter(name).value(); }

  RecordingCallbacks callbacks_;
  http::HeaderMap headers_;
};

TEST_F(RbacFilterTest, AllowedRequestsContinueDeniedOnesGet403) {
  auto config = Config(GetOnly(rbac::Action::kAllow, "readers"));
  EXPECT_EQ(Run(config, "GET"), FilterStatus::kContinue);
  EXPECT_EQ(callbacks_.reply.status, 0u);
  EXPECT_EQ(Run(config, "POST"), FilterStatus::kLocalReplySent);
  EXPECT_EQ(callbacks_.reply.status, 403u);
  EXPECT_EQ(callbacks_.reply.body, "RBAC: access denied");
  EXPECT_EQ(callbacks_.reply.details, "rbac_access_denied_matched_policy[none]");
  EXPECT_EQ(Count("http.in.rbac.allowed"), 1u);
  EXPECT_EQ(Count("http.in.rbac.denied"), 1u);
}

TEST_F(RbacFilterTest, DenyNamesTheMatchedPolicy) {
  auto config = Config(GetOnly(rbac::Action::kDeny, "no-reads"));
  EXPECT_EQ(Run(config, "GET"), FilterStatus::kLocalReplySent);
  EXPECT_EQ(callbacks_.reply.details, "rbac_access_denied_matched_policy[no-reads]");
}

TEST_F(RbacFilterTest, LogAllowsAndHintsTheAccessLog) {
  auto config = Config(GetOnly(rbac::Action::kLog, "audit-reads"));
  EXPECT_EQ(Run(config, "POST"), FilterStatus::kContinue);
  EXPECT_TRUE(callbacks_.stream.dynamic_metadata.empty());
  EXPECT_EQ(Run(config, "GET"), FilterStatus::kContinue);
  EXPECT_EQ(callbacks_.stream.dynamic_metadata["envoy.common"]["access_log_hint"],
            std::vector<std::string>{"true"});
  EXPECT_EQ(Count("http.in.rbac.logged"), 1u);
  EXPECT_EQ(Count("http.in.rbac.not_logged"), 1u);
  EXPECT_EQ(callbacks_.reply.status, 0u);
}

TEST_F(RbacFilterTest, ShadowRulesOnlyCountAndNoteMetadata) {
  auto config = Config(nullptr);
  config->shadow_rules = GetOnly(rbac::Action::kDeny, "would-deny");
  EXPECT_EQ(Run(config, "GET"), FilterStatus::kContinue);
  EXPECT_EQ(Count("http.in.rbac.shadow_denied"), 1u);
  auto& md = callbacks_.stream.dynamic_metadata["envoy.filters.http.rbac"];
  EXPECT_EQ(md["shadow_effective_policy_id"], std::vector<std::string>{"would-deny"});
  EXPECT_EQ(md["shadow_engine_result"], std::vector<std::string>{"denied"});
}

TEST_F(RbacFilterTest, PerRouteConfigReplacesTheRules) {
  auto config = Config(GetOnly(rbac::Action::kAllow, "readers"));
  callbacks_.per_route["envoy.filters.http.rbac"] = std::make_shared<rbac::RbacConfig>();
  EXPECT_EQ(Run(config, "POST"), FilterStatus::kContinue);  // no rules on this route
  callbacks_.per_route["envoy.filters.http.rbac"] = Config(GetOnly(rbac::Action::kDeny, "r"));
  EXPECT_EQ(Run(config, "GET"), FilterStatus::kLocalReplySent);
  EXPECT_EQ(Count("http.in.rbac.denied"), 1u);  // counted under the filter's names
}

TEST_F(RbacFilterTest, PeerPrincipalAndSourceComeFromTheStreamInfo) {
  callbacks_.stream.downstream_peer_uri_san = "spiffe://cluster.local/ns/a/sa/b";
  callbacks_.stream.downstream_direct_remote_address = "[::1]:5000";
  callbacks_.stream.downstream_remote_address = "10.0.0.1";  // from x-forwarded-for: no port
  callbacks_.stream.downstream_local_address = "127.0.0.1:8080";
  const rbac::RbacRequest r = RbacRequestFor(callbacks_.stream, nullptr);
  EXPECT_EQ(r.peer_principal, "spiffe://cluster.local/ns/a/sa/b");
  EXPECT_EQ(r.direct_remote.family, AF_INET6);
  EXPECT_EQ(r.direct_remote.port, 5000u);
  EXPECT_EQ(r.remote.family, AF_INET);
  EXPECT_EQ(r.local.port, 8080u);
  EXPECT_TRUE(rbac::Cidr::Parse("10.0.0.0", 8)->Contains(r.remote));
  EXPECT_FALSE(rbac::Cidr::Parse("10.0.0.0", 8)->Contains(r.direct_remote));
  EXPECT_TRUE(rbac::Cidr::Parse("::1", 128)->Contains(r.direct_remote));
}

}  // namespace
}  // namespace weft::filters
