// Service VIPs: one per host from 240.240.0.0/16, stable while the host exists, persisted across
// weftd restarts, never shared, released when the host goes.
#include "control/mesh/vip_allocator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

namespace weft::control::mesh {
namespace {

using translate::Registry;
using translate::Resolution;
using translate::Service;

Service Host(const std::string& host, std::vector<std::string> addresses = {},
             Resolution resolution = Resolution::kStatic) {
  Service s;
  s.hostname = host;
  s.namespace_ = "default";
  s.addresses = std::move(addresses);
  s.resolution = resolution;
  return s;
}

std::map<std::string, std::string> VipsOf(const Registry& r) {
  std::map<std::string, std::string> out;
  for (const Service& s : r.services) out[s.hostname] = s.allocated_vip;
  return out;
}

class VipAllocatorTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-vips-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/vips.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(VipAllocatorTest, HostsWithoutAddressesGetDistinctVipsInIstiosRange) {
  Registry r;
  for (int i = 0; i < 2000; ++i) r.services.push_back(Host("svc" + std::to_string(i) + ".test"));
  VipAllocator vips;
  vips.Assign(r);
  std::set<std::string> seen;
  for (const Service& s : r.services) {
    ASSERT_EQ(s.allocated_vip.rfind("240.240.", 0), 0u) << s.hostname << " " << s.allocated_vip;
    const std::string last = s.allocated_vip.substr(s.allocated_vip.rfind('.') + 1);
    EXPECT_NE(last, "0");
    EXPECT_NE(last, "255");
    EXPECT_TRUE(seen.insert(s.allocated_vip).second) << "shared: " << s.allocated_vip;
  }
}

TEST_F(VipAllocatorTest, AddressesWildcardsAndResolutionNoneGetNone) {
  Registry r;
  r.services = {Host("declared.test", {"10.9.9.9"}), Host("*.wild.test"),
                Host("none.test", {}, Resolution::kNone), Host("cidr.test", {"192.168.0.0/16"}),
                Host("dns.test", {}, Resolution::kDns)};
  VipAllocator vips;
  vips.Assign(r);
  const auto got = VipsOf(r);
  EXPECT_EQ(got.at("declared.test"), "");
  EXPECT_EQ(got.at("*.wild.test"), "");
  EXPECT_EQ(got.at("none.test"), "");
  EXPECT_NE(got.at("cidr.test"), "") << "a CIDR is no address a client can dial";
  EXPECT_NE(got.at("dns.test"), "");
  EXPECT_EQ(vips.vips().size(), 2u);
}

TEST_F(VipAllocatorTest, StableAcrossRebuildsAndRestartsAndReleasedWhenTheHostGoes) {
  Registry r;
  r.services = {Host("a.test"), Host("b.test"), Host("c.test")};
  std::map<std::string, std::string> first;
  {
    VipAllocator vips(path_);
    ASSERT_TRUE(vips.Load().ok());
    vips.Assign(r);
    first = VipsOf(r);
    // Another rebuild with a new host: the old ones keep theirs.
    Registry more = r;
    more.services.push_back(Host("d.test"));
    vips.Assign(more);
    for (const auto& [host, vip] : first) EXPECT_EQ(VipsOf(more).at(host), vip) << host;
  }
  ASSERT_TRUE(std::filesystem::exists(path_));
  // A restarted weftd reads them back before its first rebuild.
  VipAllocator restarted(path_);
  ASSERT_TRUE(restarted.Load().ok());
  EXPECT_EQ(restarted.vips().size(), 4u);
  Registry again;
  again.services = {Host("c.test"), Host("b.test")};  // a.test and d.test are gone
  restarted.Assign(again);
  EXPECT_EQ(VipsOf(again).at("b.test"), first.at("b.test"));
  EXPECT_EQ(VipsOf(again).at("c.test"), first.at("c.test"));
  EXPECT_EQ(restarted.vips().size(), 2u) << "released";
  VipAllocator reread(path_);
  ASSERT_TRUE(reread.Load().ok());
  EXPECT_EQ(reread.vips().size(), 2u) << "the release was saved";
}

TEST_F(VipAllocatorTest, NeverCollidesWithSavedOrDeclaredAddresses) {
  // A saved table holding the address a.test would hash to, for another host.
  VipAllocator probe;
  Registry one;
  one.services = {Host("a.test")};
  probe.Assign(one);
  const std::string natural = one.services[0].allocated_vip;
  std::ofstream(path_) << R"({"vips": {"z.test": ")" << natural << R"("}})";
  VipAllocator vips(path_);
  ASSERT_TRUE(vips.Load().ok());
  Registry r;
  r.services = {Host("a.test"), Host("z.test")};
  vips.Assign(r);
  EXPECT_EQ(VipsOf(r).at("z.test"), natural);
  EXPECT_NE(VipsOf(r).at("a.test"), natural);

  // A ServiceEntry declaring an address in the range takes it: the allocated holder moves.
  Registry declared;
  declared.services = {Host("a.test"), Host("z.test"), Host("fixed.test", {natural})};
  vips.Assign(declared);
  const auto got = VipsOf(declared);
  EXPECT_NE(got.at("z.test"), natural);
  EXPECT_NE(got.at("a.test"), natural);
  EXPECT_NE(got.at("a.test"), got.at("z.test"));
}

TEST_F(VipAllocatorTest, ACorruptTableIsAnError) {
  std::ofstream(path_) << R"({"vips": {"a.test": "10.0.0.1"}})";
  VipAllocator outside(path_);
  EXPECT_FALSE(outside.Load().ok());
  std::ofstream(path_) << R"({"vips": {"a.test": "240.240.1.1", "b.test": "240.240.1.1"}})";
  VipAllocator shared(path_);
  EXPECT_FALSE(shared.Load().ok());
  std::ofstream(path_) << "[]";
  VipAllocator junk(path_);
  const absl::Status st = junk.Load();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path_), std::string::npos);
}

}  // namespace
}  // namespace weft::control::mesh
