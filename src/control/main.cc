// weftd: Weft's control plane. Serves the Istio resource API (control/api) over its store
// (control/store, SQLite in --data-dir), and xDS (control/xds ADS server on --xds-addr) built
// from that store for each connected proxy by control/mesh.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/logging.h"
#include "base/status.h"
#include "control/api/debug_api.h"
#include "control/api/http_server.h"
#include "control/api/lifecycle_api.h"
#include "control/api/resource_api.h"
#include "control/api/token_api.h"
#include "control/ca/ca_service.h"
#include "control/ca/certificate_authority.h"
#include "control/ca/token_authority.h"
#include "control/mesh/mesh_config_file.h"
#include "control/mesh/mesh_controller.h"
#include "control/mesh/node_identity.h"
#include "control/model/formats.h"
#include "control/store/sqlite_store.h"
#include "control/xds/ads_server.h"
#include "control/xds/snapshot_cache.h"
#include "event/dispatcher.h"
#include "network/address.h"
#include "weft_version.h"

namespace {

// Written then renamed, so a reader never sees half an address.
void WriteAddressFile(const std::string& path, const std::string& address) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%s\n", address.c_str());
    std::fclose(f);
    std::rename(tmp.c_str(), path.c_str());
  }
}

// The IP SANs of weftd's own serving certificate: the TLS port's host, or every local IPv4
// address when it listens on all of them, and always loopback.
std::vector<std::string> ServingIps(const std::string& host) {
  std::vector<std::string> ips{"127.0.0.1"};
  if (host != "0.0.0.0" && host != "[::]" && host != "::") {
    if (host != "127.0.0.1" && weft::control::IsIp(host)) ips.push_back(host);
    return ips;
  }
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return ips;
  for (ifaddrs* a = addrs; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) && std::string(text) != ips[0]) {
      ips.emplace_back(text);
    }
  }
  freeifaddrs(addrs);
  return ips;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weftd: the Weft service mesh's control plane"};
  std::string data_dir = "./weft-data", api_addr = "127.0.0.1:15080", xds_addr = "127.0.0.1:15010",
              log_level = "info", api_address_path, mesh_config_path, xds_address_path,
              registration_grace = "10s", revision = "default", cacerts_dir,
              workload_cert_ttl = "24h", xds_tls_addr, xds_tls_address_path;
  app.add_option("--data-dir", data_dir, "directory of the store (weft.db), created if absent");
  app.add_option("--api-addr", api_addr, "HOST:PORT of the resource API (port 0: any free port)");
  app.add_option("--xds-addr", xds_addr, "HOST:PORT of the ADS server (port 0: any free port)");
  app.add_option("--api-address-path", api_address_path,
                 "write the API's bound HOST:PORT to this file once it listens");
  app.add_option("--xds-address-path", xds_address_path,
                 "write the ADS server's bound HOST:PORT to this file once it listens");
  app.add_option("--xds-tls-addr", xds_tls_addr,
                 "HOST:PORT of the TLS port serving ADS and the CA (Istio's 15012; port 0: any "
                 "free port). Default: --xds-addr's host on port 15012, or any free port when "
                 "--xds-addr's port is 0; if that default is taken, weftd runs without it");
  app.add_option("--xds-tls-address-path", xds_tls_address_path,
                 "write the TLS port's bound HOST:PORT to this file once it listens");
  app.add_option("--registration-grace", registration_grace,
                 "how long a proxy-registered workload stays an endpoint after its proxy's last "
                 "stream closed (Istio's PILOT_WORKLOAD_ENTRY_GRACE_PERIOD, default 10s)");
  app.add_option("--mesh-config", mesh_config_path,
                 "Istio MeshConfig YAML: outboundTrafficPolicy, rootNamespace, trustDomain, "
                 "defaultConfig.holdApplicationUntilProxyStarts (default: Istio's defaults)");
  app.add_option("--revision", revision,
                 "the control plane revision this weftd is (Istio's revision: \"default\", "
                 "\"canary\", ...), reported on GET /version");
  app.add_option("--cacerts", cacerts_dir,
                 "directory of plug-in CA files (Istio's cacerts: ca-cert.pem, ca-key.pem, "
                 "cert-chain.pem, root-cert.pem); default: a self-signed root in <data-dir>/ca");
  app.add_option("--workload-cert-ttl", workload_cert_ttl,
                 "lifetime of the workload certificates the CA signs (Istio's "
                 "DEFAULT_WORKLOAD_CERT_TTL, 24h), and the most a request may ask for");
  app.add_option("-l,--log-level", log_level, "trace|debug|info|warning|error|critical|off");
  CLI11_PARSE(app, argc, argv);

  weft::log::Init("info");
  if (!weft::log::SetLevel(log_level)) {
    std::fprintf(stderr, "error: unknown log level '%s'\n", log_level.c_str());
    return 1;
  }
  if (mkdir(data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "error: cannot create --data-dir %s: %s\n", data_dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  auto address = weft::network::ParseAddress(api_addr);
  if (!address.ok()) {
    std::fprintf(stderr, "error: --api-addr %s: %s\n", api_addr.c_str(),
                 std::string(address.status().message()).c_str());
    return 1;
  }
  const std::optional<int64_t> grace_ns = weft::control::ParseDuration(registration_grace);
  if (!grace_ns) {
    std::fprintf(stderr, "error: --registration-grace %s: %s\n", registration_grace.c_str(),
                 weft::control::DurationError(registration_grace).c_str());
    return 1;
  }
  const std::optional<int64_t> cert_ttl_ns = weft::control::ParseDuration(workload_cert_ttl);
  if (!cert_ttl_ns || *cert_ttl_ns < 1'000'000'000) {
    std::fprintf(stderr, "error: --workload-cert-ttl %s: %s\n", workload_cert_ttl.c_str(),
                 weft::control::DurationError(workload_cert_ttl, 1'000'000'000).c_str());
    return 1;
  }
  auto mesh_config = weft::control::mesh::LoadMeshConfig(mesh_config_path);
  if (!mesh_config.ok()) {
    std::fprintf(stderr, "error: --mesh-config %s\n",
                 std::string(mesh_config.status().message()).c_str());
    return 1;
  }
  auto store = weft::control::SqliteStore::Open(data_dir + "/weft.db");
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }

  // The mesh's CA and the tokens that authenticate its callers (docs/user-guide/security.md).
  if (mkdir((data_dir + "/ca").c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "error: cannot create %s/ca: %s\n", data_dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  auto certificate_authority = weft::control::ca::CertificateAuthority::Open(
      data_dir + "/ca", cacerts_dir, mesh_config->trust_domain);
  if (!certificate_authority.ok()) {
    std::fprintf(stderr, "error: CA: %s\n",
                 std::string(certificate_authority.status().message()).c_str());
    return 1;
  }
  auto tokens = weft::control::ca::TokenAuthority::Open(data_dir + "/ca/token-key");
  if (!tokens.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(tokens.status().message()).c_str());
    return 1;
  }

  // SIGTERM/SIGINT end the loop through a signalfd, so shutdown runs on the main thread.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  weft::event::Dispatcher dispatcher;
  weft::control::ResourceApi api(**store);
  auto signal_event = dispatcher.CreateFileEvent(signal_fd, [&](uint32_t) {
    signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
      WEFT_LOG(info, "weftd: signal {}, exiting", info.ssi_signo);
      dispatcher.Exit();
    }
  });

  // xDS: one cache for every proxy, filled by the mesh controller on this thread. Istio's istiod
  // debounces by 100 ms of quiet (PILOT_DEBOUNCE_AFTER), so a burst of applies is one push; we
  // debounce the rebuild (not the streams' pushes: see mesh_controller.h), and bound the wait at
  // 1 s under a steady stream of applies (Istio's PILOT_DEBOUNCE_MAX defaults to 10 s).
  weft::control::xds::SnapshotCache cache;
  weft::control::mesh::MeshController mesh(
      dispatcher, **store, cache,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(*grace_ns)),
      data_dir + "/registrations.json", data_dir + "/vips.json");
  mesh.SetDebounce(std::chrono::milliseconds(100), std::chrono::seconds(1));
  mesh.SetMeshConfig(*mesh_config);
  if (absl::Status st = mesh.Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  weft::control::xds::AdsServer ads(cache);
  mesh.AttachTo(ads);
  // The CA, on the TLS port with a serving certificate it issues to weftd itself (SANs: Istio's
  // istiod name and the addresses proxies dial). Not rotated: valid a year from each start.
  weft::control::ca::CaService ca_service(**certificate_authority, **tokens,
                                          mesh_config->trust_domain,
                                          std::chrono::seconds(*cert_ttl_ns / 1'000'000'000));
  const bool tls_addr_explicit = !xds_tls_addr.empty();
  if (!tls_addr_explicit) {
    const std::string host = xds_addr.substr(0, xds_addr.rfind(':'));
    xds_tls_addr = host + (xds_addr.substr(xds_addr.rfind(':')) == ":0" ? ":0" : ":15012");
  }
  auto serving =
      (*certificate_authority)
          ->IssueServingCertificate({"istiod.istio-system.svc", "localhost"},
                                    ServingIps(xds_tls_addr.substr(0, xds_tls_addr.rfind(':'))),
                                    std::chrono::hours(24 * 365));
  if (!serving.ok()) {
    std::fprintf(stderr, "error: CA: %s\n", std::string(serving.status().message()).c_str());
    return 1;
  }
  ads.AddTlsPort(xds_tls_addr, serving->cert_chain_pem, serving->private_key_pem,
                 {ca_service.grpc_service()});
  // ADS streams on the TLS port authenticate with the token the CA accepts; the node must be of
  // the token's namespace (as the translator reads it: node id, then NAMESPACE metadata).
  ads.SetAuthentication(
      [&tokens](const std::string& token) -> absl::StatusOr<weft::control::xds::StreamIdentity> {
        ASSIGN_OR_RETURN(weft::control::ca::ServiceAccount account, (*tokens)->Verify(token));
        return weft::control::xds::StreamIdentity{account.ns, account.name};
      },
      [](const weft::control::xds::NodeInfo& node) {
        auto identity =
            weft::control::mesh::ParseNodeIdentity(node.id, node.metadata_json, node.locality);
        // An unreadable node claims nothing, which matches no token.
        if (!identity.ok()) return weft::control::xds::StreamIdentity{};
        return weft::control::xds::StreamIdentity{identity->namespace_, identity->service_account};
      });
  absl::Status ads_started = ads.Start(xds_addr);
  if (!ads_started.ok() && !tls_addr_explicit) {
    WEFT_LOG(warn, "weftd: {} (the default TLS port): {}; running without the TLS port and CA",
             xds_tls_addr, ads_started.message());
    ads.AddTlsPort("", "", "", {});
    ads_started = ads.Start(xds_addr);
  }
  if (!ads_started.ok()) {
    std::fprintf(stderr, "error: --xds-addr %s / --xds-tls-addr %s: %s\n", xds_addr.c_str(),
                 xds_tls_addr.c_str(), std::string(ads_started.message()).c_str());
    return 1;
  }

  // The resource API and, under /debug/, what each proxy was sent and answered. Both run on this
  // dispatcher, where the mesh controller lives too.
  weft::control::DebugApi debug(
      cache,
      [&mesh](const std::string& node_id) -> std::optional<weft::control::ProxyTranslation> {
        auto proxy = mesh.Proxy(node_id);
        if (!proxy) return std::nullopt;
        return weft::control::ProxyTranslation{proxy->identity.namespace_, proxy->identity.ip,
                                               proxy->warnings, proxy->user_agent, proxy->version};
      },
      [&store] { return (*store)->Revision(); });
  weft::control::LifecycleApi lifecycle(revision, **store);
  weft::control::TokenApi token_api(**tokens);
  weft::control::HttpServer server(dispatcher, [&](const auto& request, auto& exchange) {
    if (weft::control::LifecycleApi::Serves(request)) {
      lifecycle.Handle(request, exchange);
    } else if (request.path == "/metrics") {
      exchange.Respond(200, "text/plain; version=0.0.4",
                       ca_service.PrometheusText() + ads.PrometheusText());
    } else if (weft::control::TokenApi::Serves(request)) {
      token_api.Handle(request, exchange);
    } else if (weft::control::DebugApi::Serves(request)) {
      debug.Handle(request, exchange);
    } else {
      api.Handle(request, exchange);
    }
  });
  if (absl::Status st = server.Listen(*address); !st.ok()) {
    std::fprintf(stderr, "error: cannot listen on %s: %s\n", api_addr.c_str(),
                 std::string(st.message()).c_str());
    return 1;
  }
  const std::string xds_bound =
      xds_addr.substr(0, xds_addr.rfind(':')) + ":" + std::to_string(ads.port());

  const std::string bound = server.address().ToString();
  WriteAddressFile(api_address_path, bound);
  WriteAddressFile(xds_address_path, xds_bound);
  const std::string xds_tls_bound =
      ads.tls_port() == 0
          ? ""
          : xds_tls_addr.substr(0, xds_tls_addr.rfind(':')) + ":" + std::to_string(ads.tls_port());
  WriteAddressFile(xds_tls_address_path, xds_tls_bound);
  WEFT_LOG(info,
           "weftd {} (revision {}): resource API on http://{}, xDS on {}, xDS+CA over TLS on {}, "
           "store {}/weft.db at revision {}",
           weft::kVersion, revision, bound, xds_bound,
           xds_tls_bound.empty() ? "(none)" : xds_tls_bound, data_dir, (*store)->Revision());
  dispatcher.Run();
  // Streams end before the controller they call into.
  ads.Shutdown();
  close(signal_fd);
  return 0;
}
