#include "proxy/upstream/dns_cluster.h"

#include <functional>

#include "gtest/gtest.h"
#include "unit/event/fake_dns_server.h"

namespace weft::upstream {
namespace {

using weft::testing::FakeDnsServer;
using namespace std::chrono_literals;

std::vector<std::string> Addresses(const HostSet& set) {
  std::vector<std::string> out;
  for (const auto& host : set.hosts()) out.push_back(host->address_string);
  return out;
}

class DnsClusterTest : public ::testing::Test {
 protected:
  std::shared_ptr<ClusterConfig> Config(DiscoveryType type, std::vector<EndpointConfig> endpoints) {
    auto config = std::make_shared<ClusterConfig>();
    config->name = "dns";
    config->type = type;
    config->dns_lookup_family = DnsLookupFamily::kV4Only;
    config->dns_refresh_rate = 50ms;
    config->dns_resolvers = {server_.address()};
    config->localities.push_back(
        LocalityEndpoints{"region", "zone", "", 0, 0, std::move(endpoints)});
    return config;
  }

  std::unique_ptr<DnsCluster> Start(std::shared_ptr<ClusterConfig> config) {
    auto cluster = DnsCluster::Create(
        dispatcher_, std::move(config), nullptr,
        [this](std::shared_ptr<const HostSet> set) { published_.push_back(std::move(set)); });
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    if (!cluster.ok()) return nullptr;
    (*cluster)->Start();
    return std::move(*cluster);
  }

  // Runs the loop until `done` holds (checked every few ms), failing after a generous bound.
  void RunUntil(std::function<bool()> done) {
    auto deadline = std::chrono::steady_clock::now() + 15s;
    bool timed_out = false;
    std::unique_ptr<event::Timer> poll;
    poll = dispatcher_.CreateTimer([&] {
      if (done()) {
        dispatcher_.Exit();
      } else if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        dispatcher_.Exit();
      } else {
        poll->Enable(5ms);
      }
    });
    poll->Enable(0ms);
    dispatcher_.Run();
    ASSERT_FALSE(timed_out) << "condition not reached";
  }

  FakeDnsServer server_;
  event::Dispatcher dispatcher_;
  std::vector<std::shared_ptr<const HostSet>> published_;
};

TEST_F(DnsClusterTest, StrictDnsMakesAHostOfEveryAddress) {
  server_.Set("a.weft.test", {"10.0.0.1", "10.0.0.2"}, {}, 30);
  server_.Set("b.weft.test", {"10.0.0.3"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kStrictDns,
                              {{"a.weft.test", 8080, 3, ""}, {"b.weft.test", 9090, 1, "b.alias"}}));
  RunUntil([&] { return !published_.empty(); });
  ASSERT_EQ(published_.size(), 1u);
  const HostSet& set = *published_[0];
  EXPECT_EQ(Addresses(set),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:9090"}));
  EXPECT_EQ(set.hosts()[0]->weight, 3u);
  EXPECT_EQ(set.hosts()[0]->hostname, "a.weft.test");
  EXPECT_EQ(set.hosts()[2]->hostname, "b.alias");  // endpoint.hostname wins
  EXPECT_EQ(set.hosts()[2]->locality.zone, "zone");
  EXPECT_EQ(cluster->host_set(), published_[0]);
}

TEST_F(DnsClusterTest, ChangedAnswerPublishesANewHostSet) {
  server_.Set("svc.weft.test", {"10.0.0.1", "10.0.0.2"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kStrictDns, {{"svc.weft.test", 80, 1, ""}}));
  RunUntil([&] { return published_.size() == 1; });
  server_.Set("svc.weft.test", {"10.0.0.2", "10.0.0.9"}, {}, 30);
  RunUntil([&] { return published_.size() == 2; });
  EXPECT_EQ(Addresses(*published_[1]), (std::vector<std::string>{"10.0.0.2:80", "10.0.0.9:80"}));
  // The host whose address stayed is the same object: per-host state keyed on it survives.
  EXPECT_EQ(published_[1]->hosts()[0], published_[0]->hosts()[1]);
}

TEST_F(DnsClusterTest, UnchangedAnswerPublishesNothing) {
  server_.Set("svc.weft.test", {"10.0.0.1"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kStrictDns, {{"svc.weft.test", 80, 1, ""}}));
  RunUntil([&] { return server_.QueryCount("svc.weft.test") >= 4; });  // several refreshes
  EXPECT_EQ(published_.size(), 1u);
}

TEST_F(DnsClusterTest, FailedResolutionKeepsThePreviousHosts) {
  server_.Set("svc.weft.test", {"10.0.0.1"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kStrictDns, {{"svc.weft.test", 80, 1, ""}}));
  RunUntil([&] { return published_.size() == 1; });
  int before = server_.QueryCount("svc.weft.test");
  server_.Remove("svc.weft.test");  // NXDOMAIN from now on
  RunUntil([&] { return server_.QueryCount("svc.weft.test") >= before + 3; });
  EXPECT_EQ(published_.size(), 1u);
  EXPECT_EQ(Addresses(*cluster->host_set()), (std::vector<std::string>{"10.0.0.1:80"}));
  // And it keeps retrying: once the name is back, the new answer is published.
  server_.Set("svc.weft.test", {"10.0.0.5"}, {}, 30);
  RunUntil([&] { return published_.size() == 2; });
  EXPECT_EQ(Addresses(*published_[1]), (std::vector<std::string>{"10.0.0.5:80"}));
}

TEST_F(DnsClusterTest, NameMissingAtStartPublishesAnEmptySet) {
  server_.Set("ok.weft.test", {"10.0.0.1"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kStrictDns,
                              {{"ok.weft.test", 80, 1, ""}, {"missing.weft.test", 80, 1, ""}}));
  RunUntil([&] { return !published_.empty(); });
  EXPECT_EQ(Addresses(*published_[0]), (std::vector<std::string>{"10.0.0.1:80"}));
}

TEST_F(DnsClusterTest, RespectDnsTtlRefreshesAtTheRecordTtl) {
  server_.Set("svc.weft.test", {"10.0.0.1"}, {}, 1);  // 1 s TTL
  auto config = Config(DiscoveryType::kStrictDns, {{"svc.weft.test", 80, 1, ""}});
  config->dns_refresh_rate = std::chrono::hours(1);  // would never refresh within the test
  config->respect_dns_ttl = true;
  auto cluster = Start(config);
  RunUntil([&] { return published_.size() == 1; });
  server_.Set("svc.weft.test", {"10.0.0.2"}, {}, 1);
  RunUntil([&] { return published_.size() == 2; });
  EXPECT_EQ(Addresses(*published_[1]), (std::vector<std::string>{"10.0.0.2:80"}));
}

TEST_F(DnsClusterTest, LogicalDnsUsesOnlyTheFirstAddress) {
  server_.Set("svc.weft.test", {"10.0.0.7", "10.0.0.8", "10.0.0.9"}, {}, 30);
  auto cluster = Start(Config(DiscoveryType::kLogicalDns, {{"svc.weft.test", 443, 1, ""}}));
  RunUntil([&] { return !published_.empty(); });
  EXPECT_EQ(Addresses(*published_[0]), (std::vector<std::string>{"10.0.0.7:443"}));
  // A change of the other addresses is no change for a logical host.
  server_.Set("svc.weft.test", {"10.0.0.7", "10.0.0.1"}, {}, 30);
  int before = server_.QueryCount("svc.weft.test");
  RunUntil([&] { return server_.QueryCount("svc.weft.test") >= before + 3; });
  EXPECT_EQ(published_.size(), 1u);
  server_.Set("svc.weft.test", {"10.0.0.1", "10.0.0.7"}, {}, 30);
  RunUntil([&] { return published_.size() == 2; });
  EXPECT_EQ(Addresses(*published_[1]), (std::vector<std::string>{"10.0.0.1:443"}));
}

TEST_F(DnsClusterTest, LogicalDnsNeedsExactlyOneEndpoint) {
  auto config =
      Config(DiscoveryType::kLogicalDns, {{"a.weft.test", 80, 1, ""}, {"b.weft.test", 80, 1, ""}});
  EXPECT_FALSE(DnsCluster::Create(dispatcher_, config, nullptr, [](auto) {}).ok());
  auto no_port = Config(DiscoveryType::kStrictDns, {{"a.weft.test", 0, 1, ""}});
  EXPECT_FALSE(DnsCluster::Create(dispatcher_, no_port, nullptr, [](auto) {}).ok());
  auto no_resolver = Config(DiscoveryType::kStrictDns, {{"a.weft.test", 80, 1, ""}});
  no_resolver->dns_resolvers.clear();
  EXPECT_FALSE(DnsCluster::Create(dispatcher_, no_resolver, nullptr, [](auto) {}).ok());
}

TEST_F(DnsClusterTest, IpLiteralEndpointNeedsNoQuery) {
  auto cluster = Start(Config(DiscoveryType::kStrictDns, {{"192.0.2.1", 80, 1, ""}}));
  ASSERT_EQ(published_.size(), 1u);  // published synchronously by Start()
  EXPECT_EQ(Addresses(*published_[0]), (std::vector<std::string>{"192.0.2.1:80"}));
}

TEST_F(DnsClusterTest, SharedResolverIsUsedWithoutClusterResolvers) {
  server_.Set("svc.weft.test", {"10.0.0.4"}, {}, 30);
  event::DnsResolverOptions options;
  options.servers = {server_.address()};
  auto shared = event::DnsResolver::Create(dispatcher_, options);
  ASSERT_TRUE(shared.ok());
  auto config = Config(DiscoveryType::kStrictDns, {{"svc.weft.test", 80, 1, ""}});
  config->dns_resolvers.clear();
  auto cluster = DnsCluster::Create(dispatcher_, config, shared->get(),
                                    [this](auto set) { published_.push_back(set); });
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  (*cluster)->Start();
  RunUntil([&] { return !published_.empty(); });
  EXPECT_EQ(Addresses(*published_[0]), (std::vector<std::string>{"10.0.0.4:80"}));
  cluster->reset();  // cancels its refresh and any query before the resolver goes
}

}  // namespace
}  // namespace weft::upstream
