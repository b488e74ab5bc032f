// weftctl install's values: profiles, -f merging, --set typing, and refusals with the key path.
#include "ctl/install_values.h"

#include <gtest/gtest.h>

namespace weft::ctl {
namespace {

using nlohmann::json;

TEST(InstallValuesTest, ProfilesAreCompleteAndDiffer) {
  json def = *ProfileValues("default");
  EXPECT_EQ(def["apiAddress"], "127.0.0.1:15080");
  EXPECT_EQ(def["xdsAddress"], "0.0.0.0:15010");
  EXPECT_EQ(def["network"]["subnet"], "10.250.0.0/16");
  EXPECT_EQ(ProfileValues("demo")->at("registrationGrace"), "5s");
  EXPECT_EQ(ProfileValues("minimal")->at("xdsAddress"), "127.0.0.1:15010");
  EXPECT_FALSE(ProfileValues("huge").has_value());
  std::string error;
  for (const std::string& p : ProfileNames())
    EXPECT_TRUE(ValidateValues(*ProfileValues(p), &error)) << p;
}

TEST(InstallValuesTest, SetTakesTheTypeOfTheDefault) {
  json v = *ProfileValues("default");
  std::string error;
  ASSERT_TRUE(ApplySet(&v, "meshConfig.trustDomain=example.org", &error)) << error;
  ASSERT_TRUE(
      ApplySet(&v, "meshConfig.defaultConfig.holdApplicationUntilProxyStarts=false", &error))
      << error;
  EXPECT_EQ(v["meshConfig"]["trustDomain"], "example.org");
  EXPECT_EQ(v["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStarts"], false);
  EXPECT_EQ(v["meshConfig"]["rootNamespace"], "istio-system");  // siblings kept
  ASSERT_TRUE(ApplySet(&v, "dns.upstream=", &error));           // empty is a value
  EXPECT_EQ(v["dns"]["upstream"], "");
}

TEST(InstallValuesTest, SetRefusesUnknownKeysWithThePath) {
  json v = *ProfileValues("default");
  std::string error;
  EXPECT_FALSE(ApplySet(&v, "meshConfig.bogus.deep=1", &error));
  EXPECT_EQ(error.rfind("--set meshConfig.bogus.deep: meshConfig.bogus: unknown key (known: ", 0),
            0u)
      << error;
  EXPECT_FALSE(ApplySet(&v, "network=x", &error));
  EXPECT_NE(error.find("is a mapping"), std::string::npos) << error;
  EXPECT_FALSE(
      ApplySet(&v, "meshConfig.defaultConfig.holdApplicationUntilProxyStarts=maybe", &error));
  EXPECT_NE(error.find("must be true or false"), std::string::npos);
  EXPECT_FALSE(ApplySet(&v, "noequals", &error));
}

TEST(InstallValuesTest, MergeRefusesWrongTypesAndUnknownKeys) {
  json v = *ProfileValues("default");
  std::string error;
  EXPECT_TRUE(MergeValues(&v, {{"network", {{"bridge", "mesh1"}}}}, "f.yaml", &error));
  EXPECT_EQ(v["network"]["bridge"], "mesh1");
  EXPECT_EQ(v["network"]["subnet"], "10.250.0.0/16");
  EXPECT_FALSE(MergeValues(&v, {{"network", {{"bridge", 5}}}}, "f.yaml", &error));
  EXPECT_EQ(error, "f.yaml: network.bridge: must be a string");
  EXPECT_FALSE(MergeValues(&v, {{"dns", {{"upstrem", ""}}}}, "f.yaml", &error));
  EXPECT_EQ(error, "f.yaml: dns.upstrem: unknown key (known: upstream)");
}

TEST(InstallValuesTest, ValidateChecksForms) {
  std::string error;
  auto refused = [&](const char* set, const char* path) {
    json v = *ProfileValues("default");
    EXPECT_TRUE(ApplySet(&v, set, &error)) << error;
    EXPECT_FALSE(ValidateValues(v, &error)) << set;
    EXPECT_EQ(error.rfind(path, 0), 0u) << error;
  };
  refused("apiAddress=localhost", "apiAddress:");
  refused("xdsAddress=0.0.0.0:70000", "xdsAddress:");
  refused("registrationGrace=10", "registrationGrace:");
  refused("logLevel=loud", "logLevel:");
  refused("network.subnet=10.250.0.0", "network.subnet:");
  refused("network.subnet=10.250.0.0/31", "network.subnet:");
  refused("network.bridge=a-very-long-bridge-name", "network.bridge:");
  refused("dns.upstream=resolver", "dns.upstream:");
}

TEST(InstallValuesTest, ChangedKeysNamesLeafPaths) {
  json a = *ProfileValues("default"), b = a;
  b["meshConfig"]["outboundTrafficPolicy"]["mode"] = "REGISTRY_ONLY";
  b["logLevel"] = "debug";
  EXPECT_EQ(ChangedKeys(a, b),
            (std::vector<std::string>{"logLevel", "meshConfig.outboundTrafficPolicy.mode"}));
  EXPECT_TRUE(ChangedKeys(a, a).empty());
}

TEST(InstallValuesTest, XdsTlsAddressFollowsXdsAddressUnlessSet) {
  json v = *ProfileValues("default");
  EXPECT_EQ(XdsTlsAddress(v), "0.0.0.0:15012");  // Istio's 15012 beside 15010
  v["xdsAddress"] = "127.0.0.1:0";
  EXPECT_EQ(XdsTlsAddress(v), "127.0.0.1:0");  // any free port, like xDS
  std::string error;
  ASSERT_TRUE(ApplySet(&v, "xdsTlsAddress=10.0.0.1:16012", &error)) << error;
  EXPECT_EQ(XdsTlsAddress(v), "10.0.0.1:16012");
  ASSERT_TRUE(ApplySet(&v, "xdsTlsAddress=nope", &error));
  EXPECT_FALSE(ValidateValues(v, &error));
  EXPECT_EQ(error.rfind("xdsTlsAddress: must be HOST:PORT", 0), 0u) << error;
}

TEST(InstallValuesTest, SecurityValuesAreChecked) {
  json v = *ProfileValues("default");
  EXPECT_EQ(v["security"]["workloadCertTTL"], "24h");
  EXPECT_EQ(v["security"]["cacerts"], "");
  std::string error;
  ASSERT_TRUE(ApplySet(&v, "security.workloadCertTTL=20s", &error)) << error;
  EXPECT_TRUE(ValidateValues(v, &error)) << error;
  for (const char* bad : {"500ms", "soon", "0s"}) {
    json w = v;
    ASSERT_TRUE(ApplySet(&w, std::string("security.workloadCertTTL=") + bad, &error));
    EXPECT_FALSE(ValidateValues(w, &error)) << bad;
    EXPECT_EQ(error.rfind("security.workloadCertTTL: ", 0), 0u) << error;
  }
  ASSERT_TRUE(ApplySet(&v, "security.cacerts=/nonexistent-weft-cacerts", &error));
  EXPECT_FALSE(ValidateValues(v, &error));
  EXPECT_NE(error.find("security.cacerts: /nonexistent-weft-cacerts/ca-cert.pem cannot be read"),
            std::string::npos)
      << error;
}

TEST(InstallValuesTest, WithDefaultsFillsWhatAnOlderRecordLacks) {
  json old = *ProfileValues("default");
  old.erase("security");
  old.erase("xdsTlsAddress");
  old["logLevel"] = "debug";
  json filled = WithDefaults(old);
  EXPECT_EQ(filled["security"]["workloadCertTTL"], "24h");
  EXPECT_EQ(filled["xdsTlsAddress"], "");
  EXPECT_EQ(filled["logLevel"], "debug");
  std::string error;
  EXPECT_TRUE(ValidateValues(filled, &error)) << error;
}

TEST(InstallValuesTest, SplitHostPort) {
  std::string host;
  int port = -1;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:0", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(SplitHostPort("[::1]:15080", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort(":80", &host, &port));
  EXPECT_FALSE(SplitHostPort("host:", &host, &port));
}

}  // namespace
}  // namespace weft::ctl
