// weft-proxy: the data plane. Command-line flags follow Envoy's names so existing scripts and
// habits carry over: -c/--config-path, --config-yaml, --concurrency, -l/--log-level,
// --drain-time-s, --mode serve|validate, --admin-address-path. The identity agent's flags are
// pilot-agent's (--ca-addr / CA_ADDR, ...): docs/user-guide/security.md.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/logging.h"
#include "base/memory.h"
#include "proxy/config/bootstrap_loader.h"
#include "proxy/filters/istio_stats.h"
#include "proxy/identity/identity_agent.h"
#include "proxy/server/server.h"
#include "proxy/xds/xds_client.h"
#include "security/openssl_util.h"

namespace {

// Node metadata WEFT_MTLS: "true" (issue 6: the proxy runs an identity agent), in both views of
// node.metadata the bootstrap keeps: the flat map and the JSON the xDS client sends.
void AnnounceMtls(weft::config::BootstrapConfig& bootstrap) {
  bootstrap.node.metadata["WEFT_MTLS"] = "true";
  nlohmann::json metadata = nlohmann::json::object();
  if (!bootstrap.xds.node_metadata_json.empty()) {
    metadata = nlohmann::json::parse(bootstrap.xds.node_metadata_json, nullptr, false);
    if (!metadata.is_object()) metadata = nlohmann::json::object();
  }
  metadata["WEFT_MTLS"] = "true";
  bootstrap.xds.node_metadata_json = metadata.dump();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft-proxy: the Weft service mesh's L4/L7 proxy (Envoy v3 configuration)"};
  std::string config_path, config_yaml, log_level = "info", mode = "serve", admin_address_path;
  int concurrency = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int drain_time_s = 600;
  bool version = false;
  std::string ca_addr, ca_root_cert, ca_token_file, trust_domain = "cluster.local";
  app.add_option("-c,--config-path", config_path, "Envoy v3 bootstrap file (YAML or JSON)");
  app.add_option("--config-yaml", config_yaml,
                 "Envoy v3 bootstrap as inline YAML (merged over -c)");
  app.add_option("--concurrency", concurrency, "worker threads (default: the number of cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("-l,--log-level", log_level, "trace|debug|info|warning|error|critical|off");
  app.add_option("--drain-time-s", drain_time_s, "how long a drain waits for connections to finish")
      ->check(CLI::Range(0, 86400));
  app.add_option("--mode", mode, "serve (default) or validate: check the configuration and exit")
      ->check(CLI::IsMember({"serve", "validate"}));
  app.add_option("--admin-address-path", admin_address_path,
                 "write the admin address to this file");
  app.add_flag("--version", version, "print the version and exit");
  app.add_option("--ca-addr", ca_addr,
                 "HOST:PORT of the mesh CA (weftd's --xds-tls-addr): enables the identity agent, "
                 "which serves the SDS secrets \"default\" and \"ROOTCA\" (env CA_ADDR)")
      ->envname("CA_ADDR");
  app.add_option("--ca-root-cert", ca_root_cert,
                 "PEM file of the mesh root, to verify the CA's TLS certificate")
      ->envname("CA_ROOT_CERT");
  app.add_option("--ca-token-file", ca_token_file,
                 "file holding the workload's token for the CA and, over TLS, the ADS stream "
                 "(re-read at each request and stream)")
      ->envname("CA_TOKEN_FILE");
  app.add_option("--trust-domain", trust_domain,
                 "the SPIFFE trust domain of the workload's identity (default cluster.local)")
      ->envname("TRUST_DOMAIN");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::printf("weft-proxy version: 0.1.0\n");
    return 0;
  }
  weft::log::Init("info");
  if (!weft::log::SetLevel(log_level)) {
    std::fprintf(stderr, "error: unknown log level '%s'\n", log_level.c_str());
    return 1;
  }
  if (config_path.empty() && config_yaml.empty()) {
    std::fprintf(stderr, "error: no configuration: give -c FILE or --config-yaml YAML\n");
    return 1;
  }
  // As Envoy: --config-yaml alone is the bootstrap; with -c it is merged over the file.
  auto bootstrap = config_path.empty() ? weft::config::LoadBootstrapFromString(config_yaml)
                   : config_yaml.empty()
                       ? weft::config::LoadBootstrapFromFile(config_path)
                       : weft::config::LoadBootstrapWithOverride(config_path, config_yaml);
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "error: invalid configuration: %s\n",
                 std::string(bootstrap.status().message()).c_str());
    return 1;
  }
  // istio.stats labels this proxy's side of every request with its own workload.
  weft::filters::istio::SetLocalWorkload(
      weft::filters::istio::WorkloadFromNode(bootstrap->node.id, bootstrap->node.metadata),
      trust_domain);
  if (mode == "validate") {
    std::printf("configuration '%s' OK\n", config_path.empty() ? "<inline>" : config_path.c_str());
    return 0;
  }

  // Block the signals the main loop reads through signalfd, in every thread to come.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A proxy holds two descriptors per proxied connection: use all the process may have.
  if (rlimit limit; getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  char hostname[256] = {};
  gethostname(hostname, sizeof(hostname) - 1);
  weft::proxy::ServerOptions options;
  options.concurrency = concurrency;
  options.drain_time = std::chrono::seconds(drain_time_s);
  options.admin_address_path = admin_address_path;
  options.hostname = hostname;
  const bool use_xds = bootstrap->xds.enabled;
  // The token authenticates the ADS stream too, when it goes over TLS (xds_client.cc).
  bootstrap->xds.token_path = ca_token_file;
  // The identity agent: the workload's certificate, from the node's NAMESPACE and
  // SERVICE_ACCOUNT metadata (as Istio's pilot-agent reads POD_NAMESPACE/SERVICE_ACCOUNT).
  // Made before the Server starts so every SDS-named TLS context (bootstrap, LDS, CDS) is
  // subscribed to it; started once the admin endpoint exists.
  std::optional<weft::proxy::identity::AgentOptions> agent_options;
  if (!ca_addr.empty()) {
    const auto& metadata = bootstrap->node.metadata;
    auto ns = metadata.find("NAMESPACE"), sa = metadata.find("SERVICE_ACCOUNT");
    if (ns == metadata.end() || sa == metadata.end() || ns->second.empty() || sa->second.empty()) {
      std::fprintf(stderr,
                   "error: --ca-addr needs node.metadata NAMESPACE and SERVICE_ACCOUNT in the "
                   "bootstrap\n");
      return 1;
    }
    auto root = weft::security::ReadFile(ca_root_cert);
    if (ca_root_cert.empty() || !root.ok() || ca_token_file.empty()) {
      std::fprintf(stderr,
                   "error: --ca-addr needs --ca-root-cert (a readable PEM file) and "
                   "--ca-token-file\n");
      return 1;
    }
    agent_options.emplace();
    agent_options->ca_address = ca_addr;
    agent_options->root_cert_pem = *root;
    agent_options->token_path = ca_token_file;
    agent_options->spiffe_id =
        "spiffe://" + trust_domain + "/ns/" + ns->second + "/sa/" + sa->second;
    // weftd gives a proxy mTLS (auto mTLS to it, mTLS inbound chains) only when its node
    // metadata says it has a workload certificate (control/mesh/node_identity.cc): say so
    // before the xDS stream's first request.
    AnnounceMtls(*bootstrap);
  }
  weft::proxy::Server server(options, *bootstrap);
  std::unique_ptr<weft::proxy::identity::IdentityAgent> agent;
  if (agent_options) {
    agent = std::make_unique<weft::proxy::identity::IdentityAgent>(
        server.dispatcher(), std::move(*agent_options),
        &server.main_stats().gauge("server.days_until_first_cert_expiring"));
    server.SetSecretProvider(agent.get());
  }
  if (absl::Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "error: cannot start: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (agent) {
    if (weft::proxy::AdminServer* admin = server.admin()) {
      admin->AddHandler("/certs", "print certs on machine", false,
                        [&agent](std::string_view, std::string_view, const auto&) {
                          weft::proxy::AdminResponse response;
                          response.content_type = "application/json";
                          response.body = agent->CertsJson();
                          return response;
                        });
    }
    agent->Start();
  }
  // The xDS client keeps using protobuf and gRPC: their pages stay resident then.
  std::unique_ptr<weft::proxy::XdsClient> xds;
  if (use_xds) {
    xds = std::make_unique<weft::proxy::XdsClient>(server, *bootstrap);
    xds->Start();
  }
  // The configuration is now in the data path's own structures: drop the pages that only
  // loading it needed (protobuf, yaml-cpp, generated code) from resident memory.
  size_t released =
      use_xds || agent
          ? 0
          : weft::memory::ReleaseStartupMemory({"libprotobuf", "libyaml-cpp", "libgrpc", "libabsl",
                                                "libgpr", "libre2", "weft-proxy"});
  WEFT_LOG(info, "weft-proxy started with {} worker(s); {} KiB of startup-only mappings released",
           concurrency, released / 1024);
  server.Run();
  xds.reset();  // joins the stream's thread before the server goes
  agent.reset();
  WEFT_LOG(info, "weft-proxy exiting");
  return 0;
}
