// weftd's GET /version and GET /debug/storedversions over a real (in-memory) SQLite store: the
// version and revision weftctl checks, and each resource with the API version it was written
// under (what `weftctl upgrade` warns about).
#include "control/api/lifecycle_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control/store/sqlite_store.h"
#include "unit/control/api/captured_response.h"
#include "weft_version.h"

namespace weft::control {
namespace {

using nlohmann::json;

json Resource(const std::string& api_version, const std::string& kind, const std::string& name) {
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", json::object()}};
}

class LifecycleApiTest : public ::testing::Test {
 protected:
  LifecycleApiTest() : store_(std::move(*SqliteStore::Open(":memory:"))), api_("canary", *store_) {}

  CapturedResponse Call(const std::string& method, const std::string& path) {
    HttpRequest request{method, path, {}, ""};
    CapturedResponse response;
    EXPECT_TRUE(LifecycleApi::Serves(request));
    api_.Handle(request, response);
    return response;
  }

  std::unique_ptr<SqliteStore> store_;
  LifecycleApi api_;
};

TEST_F(LifecycleApiTest, VersionNamesTheBuildAndTheRevision) {
  CapturedResponse r = Call("GET", "/version");
  ASSERT_EQ(r.status, 200u);
  json body = json::parse(r.body);
  EXPECT_EQ(body["version"], "0.5.0");
  EXPECT_EQ(body["version"], kVersion);
  EXPECT_EQ(body["revision"], "canary");
  EXPECT_TRUE(body["gitCommit"].is_string());
  EXPECT_EQ(Call("POST", "/version").status, 405u);
}

TEST_F(LifecycleApiTest, StoredVersionsListsWhatEachResourceWasWrittenAs) {
  ASSERT_TRUE(
      store_->Create(Resource("networking.istio.io/v1alpha3", "VirtualService", "old")).ok());
  ASSERT_TRUE(store_->Create(Resource("networking.istio.io/v1", "DestinationRule", "new")).ok());
  CapturedResponse r = Call("GET", "/debug/storedversions");
  ASSERT_EQ(r.status, 200u) << r.body;
  json items = json::parse(r.body)["items"];
  ASSERT_EQ(items.size(), 2u) << r.body;
  json by_name;
  for (const json& i : items) by_name[i["name"].get<std::string>()] = i;
  EXPECT_EQ(by_name["old"]["apiVersion"], "networking.istio.io/v1alpha3");
  EXPECT_EQ(by_name["old"]["kind"], "VirtualService");
  EXPECT_EQ(by_name["old"]["namespace"], "default");
  EXPECT_EQ(by_name["new"]["apiVersion"], "networking.istio.io/v1");
  EXPECT_FALSE(LifecycleApi::Serves(HttpRequest{"GET", "/debug/proxies", {}, ""}));
}

}  // namespace
}  // namespace weft::control
