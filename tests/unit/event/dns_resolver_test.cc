#include "event/dns_resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <optional>

#include "gtest/gtest.h"
#include "unit/event/fake_dns_server.h"

namespace weft::event {
namespace {

using weft::testing::FakeDnsServer;

std::string Ip(const DnsResponse& r) {
  char text[INET6_ADDRSTRLEN] = {};
  if (r.address.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&r.address)->sin_addr, text,
              sizeof(text));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&r.address)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

struct Result {
  absl::Status status;
  std::vector<std::string> ips;
  std::vector<int64_t> ttls;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  std::unique_ptr<DnsResolver> MakeResolver(
      std::chrono::milliseconds timeout = std::chrono::seconds(2), int tries = 3) {
    DnsResolverOptions options;
    options.servers = {server_.address()};
    options.query_timeout = timeout;
    options.query_tries = tries;
    auto resolver = DnsResolver::Create(dispatcher_, options);
    EXPECT_TRUE(resolver.ok()) << resolver.status();
    return std::move(*resolver);
  }

  DnsCallback Capture(std::optional<Result>& out, bool exit = true) {
    return [this, &out, exit](absl::Status status, std::vector<DnsResponse> responses) {
      Result result{std::move(status), {}, {}};
      for (const auto& r : responses) {
        result.ips.push_back(Ip(r));
        result.ttls.push_back(r.ttl.count());
      }
      out = std::move(result);
      if (exit) dispatcher_.Exit();
    };
  }

  // Runs the loop until a callback calls Exit(), or fails after a generous bound.
  void Run() {
    bool timed_out = false;
    auto guard = dispatcher_.CreateTimer([&] {
      timed_out = true;
      dispatcher_.Exit();
    });
    guard->Enable(std::chrono::seconds(10));
    dispatcher_.Run();
    ASSERT_FALSE(timed_out) << "DNS did not answer";
  }

  FakeDnsServer server_;
  Dispatcher dispatcher_;
};

TEST_F(DnsResolverTest, ResolvesARecordsWithTtl) {
  server_.Set("svc.weft.test", {"10.1.2.3", "10.1.2.4"}, {}, 42);
  auto resolver = MakeResolver();
  std::optional<Result> result;
  EXPECT_NE(resolver->Resolve("svc.weft.test", DnsLookupFamily::kV4Only, Capture(result)), nullptr);
  Run();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->status.ok()) << result->status;
  EXPECT_EQ(result->ips, (std::vector<std::string>{"10.1.2.3", "10.1.2.4"}));
  EXPECT_EQ(result->ttls, (std::vector<int64_t>{42, 42}));
}

TEST_F(DnsResolverTest, LookupFamilies) {
  server_.Set("dual.weft.test", {"10.0.0.1"}, {"fd00::1"}, 30);
  server_.Set("v4.weft.test", {"10.0.0.2"}, {}, 30);
  auto resolver = MakeResolver();
  auto resolve = [&](const char* name, DnsLookupFamily family) {
    std::optional<Result> result;
    resolver->Resolve(name, family, Capture(result));
    Run();
    return result.value_or(Result{absl::InternalError("no callback"), {}, {}});
  };
  EXPECT_EQ(resolve("dual.weft.test", DnsLookupFamily::kV6Only).ips,
            (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(resolve("dual.weft.test", DnsLookupFamily::kAuto).ips,
            (std::vector<std::string>{"fd00::1"}));
  EXPECT_EQ(resolve("dual.weft.test", DnsLookupFamily::kV4Preferred).ips,
            (std::vector<std::string>{"10.0.0.1"}));
  auto all = resolve("dual.weft.test", DnsLookupFamily::kAll).ips;
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
  // AUTO falls back to IPv4 when the name has no AAAA record.
  EXPECT_EQ(resolve("v4.weft.test", DnsLookupFamily::kAuto).ips,
            (std::vector<std::string>{"10.0.0.2"}));
  EXPECT_EQ(resolve("v4.weft.test", DnsLookupFamily::kV6Only).status.code(),
            absl::StatusCode::kNotFound);
}

TEST_F(DnsResolverTest, NxdomainIsNotFound) {
  auto resolver = MakeResolver();
  std::optional<Result> result;
  resolver->Resolve("missing.weft.test", DnsLookupFamily::kV4Only, Capture(result));
  Run();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status.code(), absl::StatusCode::kNotFound) << result->status;
  EXPECT_GE(server_.QueryCount("missing.weft.test"), 1);
}

TEST_F(DnsResolverTest, IpLiteralsResolveWithoutAQuery) {
  auto resolver = MakeResolver();
  std::optional<Result> v4, v6, wrong;
  EXPECT_EQ(resolver->Resolve("192.0.2.7", DnsLookupFamily::kAuto, Capture(v4, false)), nullptr);
  EXPECT_EQ(resolver->Resolve("2001:db8::5", DnsLookupFamily::kAuto, Capture(v6, false)), nullptr);
  EXPECT_EQ(resolver->Resolve("192.0.2.7", DnsLookupFamily::kV6Only, Capture(wrong, false)),
            nullptr);
  ASSERT_TRUE(v4.has_value() && v6.has_value() && wrong.has_value());
  EXPECT_EQ(v4->ips, (std::vector<std::string>{"192.0.2.7"}));
  EXPECT_EQ(v6->ips, (std::vector<std::string>{"2001:db8::5"}));
  EXPECT_FALSE(wrong->status.ok());
}

TEST_F(DnsResolverTest, HostsFileIsConsultedFirst) {
  auto resolver = MakeResolver();
  std::optional<Result> result;
  auto* handle = resolver->Resolve("localhost", DnsLookupFamily::kV4Only, Capture(result));
  if (handle != nullptr) Run();  // c-ares may answer from /etc/hosts synchronously
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->status.ok()) << result->status;
  EXPECT_EQ(result->ips, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(server_.QueryCount("localhost"), 0);
}

TEST_F(DnsResolverTest, SilentServerTimesOut) {
  server_.SetSilent(true);
  auto resolver = MakeResolver(std::chrono::milliseconds(100), 1);
  std::optional<Result> result;
  resolver->Resolve("slow.weft.test", DnsLookupFamily::kV4Only, Capture(result));
  Run();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status.code(), absl::StatusCode::kDeadlineExceeded) << result->status;
}

TEST_F(DnsResolverTest, CancelledQueryNeverCallsBack) {
  server_.SetSilent(true);
  auto resolver = MakeResolver(std::chrono::milliseconds(100), 1);
  std::optional<Result> cancelled, witness;
  ActiveDnsQuery* handle =
      resolver->Resolve("first.weft.test", DnsLookupFamily::kV4Only, Capture(cancelled));
  ASSERT_NE(handle, nullptr);
  handle->Cancel();
  // A second query that times out later than the first proves the loop ran past its deadline.
  resolver->Resolve("second.weft.test", DnsLookupFamily::kV4Only, Capture(witness));
  Run();
  ASSERT_TRUE(witness.has_value());
  EXPECT_FALSE(cancelled.has_value());
}

TEST_F(DnsResolverTest, DestroyingTheResolverCancelsQueries) {
  server_.SetSilent(true);
  auto resolver = MakeResolver(std::chrono::milliseconds(100), 1);
  std::optional<Result> result;
  resolver->Resolve("pending.weft.test", DnsLookupFamily::kV4Only, Capture(result));
  resolver.reset();
  EXPECT_FALSE(result.has_value());
}

TEST_F(DnsResolverTest, CallbackMayDestroyTheResolver) {
  server_.Set("a.weft.test", {"10.0.0.1"}, {}, 5);
  server_.Set("b.weft.test", {"10.0.0.2"}, {}, 5);
  auto resolver = MakeResolver();
  int calls = 0;
  auto destroy = [&](absl::Status, std::vector<DnsResponse>) {
    ++calls;
    resolver.reset();
    dispatcher_.Exit();
  };
  resolver->Resolve("a.weft.test", DnsLookupFamily::kV4Only, destroy);
  resolver->Resolve("b.weft.test", DnsLookupFamily::kV4Only, destroy);
  Run();
  EXPECT_EQ(calls, 1);  // the second query died with the resolver
  EXPECT_EQ(resolver, nullptr);
}

TEST_F(DnsResolverTest, BadServerAddressIsRefused) {
  DnsResolverOptions options;
  options.servers = {"not-an-address"};
  EXPECT_FALSE(DnsResolver::Create(dispatcher_, options).ok());
}

}  // namespace
}  // namespace weft::event
