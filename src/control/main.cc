// weftd: Weft's control plane. Serves the Istio resource API (control/api) over its store
// (control/store, SQLite in --data-dir). The xDS server (--xds-addr) joins in a later part of
// issue 4; the flag is accepted now so scripts need not change.
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>

#include "base/logging.h"
#include "control/api/http_server.h"
#include "control/api/resource_api.h"
#include "control/store/sqlite_store.h"
#include "event/dispatcher.h"
#include "network/address.h"

int main(int argc, char** argv) {
  CLI::App app{"weftd: the Weft service mesh's control plane"};
  std::string data_dir = "./weft-data", api_addr = "127.0.0.1:15080", xds_addr = "127.0.0.1:15010",
              log_level = "info", api_address_path;
  app.add_option("--data-dir", data_dir, "directory of the store (weft.db), created if absent");
  app.add_option("--api-addr", api_addr, "HOST:PORT of the resource API (port 0: any free port)");
  app.add_option("--xds-addr", xds_addr, "HOST:PORT of the xDS server (not served yet)");
  app.add_option("--api-address-path", api_address_path,
                 "write the API's bound HOST:PORT to this file once it listens");
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
  auto store = weft::control::SqliteStore::Open(data_dir + "/weft.db");
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(store.status().message()).c_str());
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
  weft::control::HttpServer server(
      dispatcher, [&api](const auto& request, auto& exchange) { api.Handle(request, exchange); });
  if (absl::Status st = server.Listen(*address); !st.ok()) {
    std::fprintf(stderr, "error: cannot listen on %s: %s\n", api_addr.c_str(),
                 std::string(st.message()).c_str());
    return 1;
  }
  auto signal_event = dispatcher.CreateFileEvent(signal_fd, [&](uint32_t) {
    signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
      WEFT_LOG(info, "weftd: signal {}, exiting", info.ssi_signo);
      dispatcher.Exit();
    }
  });
  const std::string bound = server.address().ToString();
  if (!api_address_path.empty()) {
    // Written then renamed, so a reader never sees half an address.
    std::string tmp = api_address_path + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%s\n", bound.c_str());
      std::fclose(f);
      std::rename(tmp.c_str(), api_address_path.c_str());
    }
  }
  WEFT_LOG(info, "weftd: resource API on http://{}, store {}/weft.db at revision {}", bound,
           data_dir, (*store)->Revision());
  dispatcher.Run();
  close(signal_fd);
  return 0;
}
