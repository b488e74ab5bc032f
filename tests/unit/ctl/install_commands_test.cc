// The version rules `weftctl upgrade` applies: parsing, and Istio's control plane / data plane
// skew (a proxy one minor version older at most, never newer).
#include "ctl/install_commands.h"

#include <gtest/gtest.h>

namespace weft::ctl {
namespace {

TEST(InstallCommandsTest, ParseVersion) {
  int v[3];
  ASSERT_TRUE(ParseVersion("0.5.0", v));
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 5);
  EXPECT_EQ(v[2], 0);
  EXPECT_TRUE(ParseVersion("1.22.3", v));
  EXPECT_EQ(v[1], 22);
  EXPECT_FALSE(ParseVersion("", v));
  EXPECT_FALSE(ParseVersion("1.2", v));
}

TEST(InstallCommandsTest, SkewFollowsIstio) {
  const int cp[3] = {1, 22, 0};
  auto problem = [&](int a, int b, int c) {
    const int p[3] = {a, b, c};
    return SkewProblem(p, cp);
  };
  EXPECT_EQ(problem(1, 22, 0), "");
  EXPECT_EQ(problem(1, 21, 9), "");       // one minor older: supported
  EXPECT_EQ(problem(1, 20, 0), "older");  // two: not
  EXPECT_EQ(problem(0, 22, 0), "older");  // another major
  EXPECT_EQ(problem(1, 22, 1), "newer");  // a proxy newer than its control plane
  EXPECT_EQ(problem(1, 23, 0), "newer");
}

}  // namespace
}  // namespace weft::ctl
