// weft-xds-fixture: a tests-only xDS server. Serves, to every node, the Envoy resources found in
// a directory (one resource per *.json file, each with its "@type"; *.yaml files may hold
// resources of the types the proxy's YAML conversion knows), and follows the
// directory: a file added, changed or removed becomes a push within --poll-ms. The ADS server is
// weftd's own (control/xds); only the snapshot's source differs.
//
//   weft-xds-fixture --dir DIR --addr 127.0.0.1:0 --port-file F [--status-file S]
//
// --status-file receives the server's per-node ACK/NACK bookkeeping as JSON whenever it changes,
// so tests can see what a proxy ACKed or NACKed (and why) from the server's side.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/logging.h"
#include "control/xds/ads_server.h"
#include "control/xds/snapshot_cache.h"
#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "proxy/config/translate_common.h"
#include "proxy/config/yaml_to_json.h"

namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;
using weft::control::xds::Snapshot;

std::atomic<bool> g_stop{false};

// The resource's name as the xDS protocol keys it: `name`, or `cluster_name` for
// ClusterLoadAssignment.
std::string ResourceName(const pb::Message& message) {
  const pb::Descriptor* d = message.GetDescriptor();
  const pb::FieldDescriptor* f = d->FindFieldByName("name");
  if (f == nullptr) f = d->FindFieldByName("cluster_name");
  if (f == nullptr || f->type() != pb::FieldDescriptor::TYPE_STRING) return "";
  return message.GetReflection()->GetString(message, f);
}

// Reads every resource file; a file that does not parse is reported and skipped (the test
// meant to serve something invalid to the proxy, not to the fixture).
Snapshot LoadDirectory(const fs::path& dir, std::string& fingerprint) {
  Snapshot snapshot;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  fingerprint.clear();
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    fingerprint += file.string() + "\n" + text.str() + "\n";
    // JSON files are read as they are; YAML goes through the proxy's schema-typed conversion,
    // which resolves the "@type" of the Any.
    std::string json = text.str();
    if (file.extension() != ".json") {
      auto converted = weft::config::YamlToJson(json, *pb::Any::descriptor());
      if (!converted.ok()) {
        WEFT_LOG(error, "{}: {}", file.string(), converted.status().message());
        continue;
      }
      json = std::move(*converted);
    }
    pb::Any any;
    auto st = pb::util::JsonStringToMessage(json, &any);
    if (!st.ok()) {
      WEFT_LOG(error, "{}: {}", file.string(), std::string(st.message()));
      continue;
    }
    const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
        std::string(any.type_url().substr(any.type_url().rfind('/') + 1)));
    std::unique_ptr<pb::Message> message(
        d ? pb::MessageFactory::generated_factory()->GetPrototype(d)->New() : nullptr);
    if (!message || !any.UnpackTo(message.get())) {
      WEFT_LOG(error, "{}: cannot unpack {}", file.string(), any.type_url());
      continue;
    }
    const std::string name = ResourceName(*message);
    snapshot[any.type_url()].resources[name] = any.SerializeAsString();
  }
  return snapshot;
}

std::string StatusJson(const weft::control::xds::SnapshotCache& cache) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [node, status] : cache.AllStatuses()) {
    nlohmann::json types = nlohmann::json::object();
    for (const auto& [type, t] : status.types) {
      types[type] = {{"sent_version", t.sent_version},
                     {"acked_version", t.acked_version},
                     {"nack_version", t.nack_version},
                     {"nack_error", t.nack_error},
                     {"acks", t.acks},
                     {"nacks", t.nacks},
                     {"pushes", t.pushes}};
    }
    out[node] = {{"open_streams", status.open_streams}, {"types", types}};
  }
  return out.dump(2);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-xds-fixture: serves a directory of Envoy resources over ADS (tests only)"};
  std::string dir, addr = "127.0.0.1:0", port_file, status_file;
  int poll_ms = 100;
  app.add_option("--dir", dir, "directory of resource files")->required();
  app.add_option("--addr", addr, "listen address host:port");
  app.add_option("--port-file", port_file, "write the port here once listening");
  app.add_option("--status-file", status_file, "write ACK/NACK bookkeeping here (JSON)");
  app.add_option("--poll-ms", poll_ms, "how often to look at the directory");
  CLI11_PARSE(app, argc, argv);
  weft::log::Init("info");
  // The resource types must be in the generated pool for "@type" to resolve: the proto library
  // is static, so reference them (the extensions' types are linked by the proxy's config code).
  weft::config::LinkExtensionTypes();
  (void)envoy::config::cluster::v3::Cluster::descriptor();
  (void)envoy::config::endpoint::v3::ClusterLoadAssignment::descriptor();
  (void)envoy::config::listener::v3::Listener::descriptor();
  (void)envoy::config::route::v3::RouteConfiguration::descriptor();
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });

  weft::control::xds::SnapshotCache cache;
  std::string fingerprint;
  cache.SetDefaultSnapshot(LoadDirectory(dir, fingerprint));
  weft::control::xds::AdsServer server(cache);
  if (auto st = server.Start(addr); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::ofstream tmp(port_file + ".tmp");
    tmp << server.port();
    tmp.close();
    fs::rename(port_file + ".tmp", port_file);
  }
  std::string last_status;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    std::string now;
    Snapshot snapshot = LoadDirectory(dir, now);
    if (now != fingerprint) {
      fingerprint = std::move(now);
      WEFT_LOG(info, "resources changed: new snapshot");
      cache.SetDefaultSnapshot(std::move(snapshot));
    }
    if (!status_file.empty()) {
      std::string status = StatusJson(cache);
      if (status != last_status) {
        std::ofstream(status_file + ".tmp") << status;
        fs::rename(status_file + ".tmp", status_file);
        last_status = std::move(status);
      }
    }
  }
  server.Shutdown();
  return 0;
}
