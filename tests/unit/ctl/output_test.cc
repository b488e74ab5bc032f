// weftctl's kubectl-style output: table alignment, AGE, and YAML that reads back as the same JSON.
#include "ctl/output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/yaml_json.h"

namespace weft::ctl {
namespace {

using nlohmann::json;

TEST(OutputTest, TableColumnsAreWidestCellPlusThreeAtLeastTen) {
  Table t({"NAME", "HOSTS", "AGE"});
  t.AddRow({"reviews", "[\"reviews.default.svc\"]", "5s"});
  t.AddRow({"a-much-longer-name", "x", "10m"});
  EXPECT_EQ(t.Render(),
            "NAME                 HOSTS                     AGE\n"
            "reviews              [\"reviews.default.svc\"]   5s\n"
            "a-much-longer-name   x                         10m\n");
  EXPECT_EQ(t.rows(), 2u);
}

TEST(OutputTest, HumanDurationLikeKubectl) {
  EXPECT_EQ(HumanDuration(-5), "<invalid>");
  EXPECT_EQ(HumanDuration(-1), "0s");
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(119), "119s");
  EXPECT_EQ(HumanDuration(120), "2m");
  EXPECT_EQ(HumanDuration(192), "3m12s");
  EXPECT_EQ(HumanDuration(15 * 60 + 7), "15m");
  EXPECT_EQ(HumanDuration(179 * 60), "179m");
  EXPECT_EQ(HumanDuration(5 * 3600 + 3 * 60), "5h3m");
  EXPECT_EQ(HumanDuration(5 * 3600), "5h");
  EXPECT_EQ(HumanDuration(30 * 3600), "30h");
  EXPECT_EQ(HumanDuration(52 * 3600), "2d4h");
  EXPECT_EQ(HumanDuration(40 * 86400), "40d");
  EXPECT_EQ(HumanDuration(int64_t{3} * 365 * 86400 + 5 * 86400), "3y5d");
  EXPECT_EQ(Age("not a time"), "<unknown>");
}

TEST(OutputTest, CellsLikeKubectl) {
  EXPECT_EQ(Cell(nullptr), "<none>");
  EXPECT_EQ(Cell("DNS"), "DNS");
  EXPECT_EQ(Cell(json::array({"reviews"})), "[\"reviews\"]");
}

TEST(OutputTest, YamlIsBlockStyleAndReadsBackAsTheSameJson) {
  json value = json::parse(R"({
    "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
    "metadata": {"name": "reviews", "resourceVersion": "43", "labels": {}, "generation": 2,
                 "creationTimestamp": "2026-11-26T02:55:10Z"},
    "spec": {"hosts": ["*", "reviews"], "gateways": [],
             "http": [{"match": [{"uri": {"prefix": "/a: b"}}],
                       "route": [{"destination": {"host": "reviews", "subset": "v1"},
                                  "weight": 80}],
                       "timeout": "10s", "retries": {"attempts": 3, "retryOn": "5xx,reset"}}],
             "odd": ["true", "null", "", "it's", "0x1F", "2026-01-02", "line\nbreak", "~", "yes", 1.5, false, null]}
  })");
  const std::string yaml = ToYaml(value);
  EXPECT_NE(yaml.find("kind: VirtualService\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  resourceVersion: \"43\"\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  hosts:\n  - '*'\n  - reviews\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  - match:\n    - uri:\n        prefix: '/a: b'\n"), std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("  labels: {}\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("  creationTimestamp: \"2026-11-26T02:55:10Z\"\n"), std::string::npos)
      << yaml;
  auto back = weft::yaml::DocumentsToJson(yaml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], value) << yaml;
}

}  // namespace
}  // namespace weft::ctl
