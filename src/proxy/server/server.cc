#include "proxy/server/server.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "network/listen_socket.h"

namespace weft::proxy {

Server::Server(ServerOptions options, config::BootstrapConfig bootstrap)
    : options_(std::move(options)), bootstrap_(std::move(bootstrap)) {
  main_stats_ = &stats_.NewStore();
  start_time_ = dispatcher_.Now();
}

Server::~Server() {
  for (auto& w : workers_) w->Stop();
  workers_.clear();
  admin_.reset();
  clusters_.reset();
  signal_event_.reset();
  if (signal_fd_ >= 0) close(signal_fd_);
}

absl::Status Server::Start() {
  int n = std::max(1, options_.concurrency);
  for (int i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, stats_, host_stats_, options_.hostname));
  }

  // Clusters first, so no listener can route to a cluster a worker does not know yet.
  clusters_ = std::make_unique<cluster::ClusterManager>(
      dispatcher_,
      [this](const std::string& name, std::shared_ptr<const upstream::HostSet> hosts,
             std::shared_ptr<const upstream::LbSharedState> lb_state) {
        for (auto& w : workers_) w->UpdateHosts(name, hosts, lb_state);
      },
      *main_stats_, host_stats_);
  // Workers post consecutive-failure thresholds here; the main loop runs them.
  for (auto& w : workers_) {
    w->SetOutlierReporter(
        [this](const std::string& cluster, const std::string& address, health::EjectionType type) {
          dispatcher_.Post([this, cluster, address, type] {
            if (clusters_) clusters_->OnConsecutiveFailure(cluster, address, type);
          });
        });
  }
  for (const auto& cluster : bootstrap_.clusters) {
    RETURN_IF_ERROR(
        SubscribeSecrets(TlsContextsOf(*cluster), absl::StrCat("cluster '", cluster->name, "'")));
    for (auto& w : workers_) w->AddCluster(cluster);
    RETURN_IF_ERROR(clusters_->AddCluster(cluster));
  }

  // Listeners: one SO_REUSEPORT socket per worker, all bound before any worker runs.
  std::vector<std::pair<std::shared_ptr<const ListenerRuntime>, std::vector<int>>> bound;
  auto close_bound = [&bound] {
    for (auto& [rt, fds] : bound) {
      for (int fd : fds) close(fd);
    }
  };
  for (const auto& listener : bootstrap_.listeners) {
    if (absl::Status st = SubscribeSecrets(TlsContextsOf(listener),
                                           absl::StrCat("listener '", listener.name, "'"));
        !st.ok()) {
      close_bound();
      return st;
    }
    auto shared = std::make_shared<const listener::ListenerConfig>(listener);
    auto runtime = ListenerRuntime::Build(shared, RdsLookup());
    if (!runtime.ok()) {
      close_bound();
      return absl::InvalidArgumentError(
          absl::StrCat("listener '", listener.name, "': ", runtime.status().message()));
    }
    auto fds = BindWorkerSockets(listener, (*runtime)->address);
    if (!fds.ok()) {
      close_bound();
      return fds.status();
    }
    bound.emplace_back(*runtime, std::move(*fds));
  }

  // Admin.
  if (bootstrap_.admin.enabled) {
    admin_ = std::make_unique<AdminServer>(dispatcher_);
    InstallAdminHandlers();
    ASSIGN_OR_RETURN(network::Address admin_address,
                     network::MakeAddress(bootstrap_.admin.address, bootstrap_.admin.port));
    absl::Status st = admin_->Listen(admin_address);
    if (!st.ok()) {
      close_bound();
      return absl::UnavailableError(absl::StrCat("admin: ", st.message()));
    }
    if (!options_.admin_address_path.empty()) {
      std::ofstream(options_.admin_address_path) << admin_->address().ToString();
    }
    WEFT_LOG(info, "admin address: {}", admin_->address().ToString());
  }

  for (auto& [runtime, fds] : bound) {
    if (!SecretsReady(*runtime->config)) {
      // Warms until its SDS secrets arrive (listener_warming.cc); the server is INITIALIZING.
      StartWarming(*runtime->config, std::exchange(fds, {}), /*waits_for_routes=*/false);
      continue;
    }
    listeners_.push_back(runtime);
    AddToWorkers(runtime, fds);
    main_stats_->counter("listener_manager.listener_added").Inc();
    WEFT_LOG(info, "listener '{}' on {}{}", runtime->config->name, runtime->address.ToString(),
             runtime->config->bind_to_port ? "" : " (bind_to_port: false)");
  }
  for (auto& w : workers_) w->Start();

  // Signals arrive as events on the main loop, not in a handler. main() blocked them in every
  // thread before any thread was created, which signalfd needs.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGUSR1);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  signal_event_ = dispatcher_.CreateFileEvent(signal_fd_, [this](uint32_t) { OnSignal(); });
  main_stats_->gauge("server.live").Set(1);
  main_stats_->gauge("server.concurrency").Set(n);
  UpdateListenerState();  // server.state: LIVE, or INITIALIZING while listeners warm
  return absl::OkStatus();
}

void Server::OnSignal() {
  signalfd_siginfo info;
  while (read(signal_fd_, &info, sizeof(info)) == sizeof(info)) {
    if (info.ssi_signo == SIGUSR1) {
      // Log rotation: the rotator renamed the files; write to new ones from now on.
      size_t reopened = ReopenAccessLogs();
      WEFT_LOG(info, "SIGUSR1: reopened {} access log file(s)", reopened);
      continue;
    }
    WEFT_LOG(info, "caught signal {}: draining for up to {}s", info.ssi_signo,
             options_.drain_time.count());
    if (draining_) {
      Shutdown();  // a second signal: stop now
      return;
    }
    Drain(true);
  }
}

void Server::Drain(bool then_exit) {
  exit_after_drain_ = exit_after_drain_ || then_exit;
  if (draining_) return;
  draining_ = true;
  UpdateListenerState();  // server.state DRAINING
  for (auto& w : workers_) w->StartDrain();
  if (!exit_after_drain_) return;
  drain_timer_ = dispatcher_.CreateTimer([this] { Shutdown(); });
  drain_timer_->Enable(std::chrono::duration_cast<event::Milliseconds>(options_.drain_time));
  drain_poll_timer_ = dispatcher_.CreateTimer([this] { CheckDrained(); });
  drain_poll_timer_->Enable(event::Milliseconds(50));
}

void Server::CheckDrained() {
  size_t open = 0;
  for (auto& w : workers_) open += w->active_connections();
  if (open == 0) {
    WEFT_LOG(info, "drained: exiting");
    Shutdown();
    return;
  }
  drain_poll_timer_->Enable(event::Milliseconds(50));
}

void Server::Shutdown() {
  main_stats_->gauge("server.live").Set(0);
  dispatcher_.Exit();
}

void Server::Run() { dispatcher_.Run(); }

size_t Server::ReopenAccessLogs() {
  std::set<access_log::AccessLogFile*> files;
  auto collect = [&files](const std::vector<access_log::AccessLog>& logs) {
    for (const auto& log : logs) files.insert(log.file.get());
  };
  for (const auto& listener : listeners_) {
    auto chains = listener->chains;
    if (listener->default_chain) chains.push_back(*listener->default_chain);
    for (const auto& chain : chains) {
      if (chain.hcm) collect(chain.hcm->access_logs);
      if (chain.tcp) collect(chain.tcp->access_logs);
    }
  }
  for (access_log::AccessLogFile* file : files) {
    if (absl::Status st = file->Reopen(); !st.ok()) {
      WEFT_LOG(error, "reopening access log {}: {}", file->path(), st.message());
    }
  }
  return files.size();
}

AdminResponse Server::ClustersPage(bool json) {
  // Per-host numbers, summed over workers, keyed "<cluster>::<address>::<stat>".
  stats::Snapshot host_stats = host_stats_.Merge();
  std::map<std::string, std::map<std::string, uint64_t>>
      by_host;  // "<cluster>::<address>" -> stats
  auto split = [](const std::string& key) {
    size_t last = key.rfind("::");
    return std::make_pair(key.substr(0, last), key.substr(last + 2));
  };
  for (auto& [key, value] : host_stats.counters) {
    auto [host, stat] = split(key);
    by_host[host][stat] = value;
  }
  for (auto& [key, value] : host_stats.gauges) {
    auto [host, stat] = split(key);
    by_host[host][stat] = static_cast<uint64_t>(std::max<int64_t>(0, value));
  }
  static constexpr const char* kStatOrder[] = {"cx_active",  "cx_connect_fail", "cx_total",
                                               "rq_active",  "rq_error",        "rq_success",
                                               "rq_timeout", "rq_total"};

  std::string out;
  nlohmann::json statuses = nlohmann::json::array();
  for (auto& [name, config] : clusters_->clusters()) {
    absl::StrAppend(&out, name, "::observability_name::",
                    config->alt_stat_name.empty() ? name : config->alt_stat_name, "\n");
    const bool via_api = dynamic_clusters_.count(name) > 0;
    absl::StrAppend(&out, name, "::added_via_api::", via_api ? "true" : "false", "\n");
    // Hosts of the current host set, then, for ORIGINAL_DST, the hosts only the workers know.
    // (Other clusters' stats may outlive a host EDS or DNS removed: those are not listed.)
    std::vector<std::pair<std::string, const upstream::Host*>> hosts;
    std::set<std::string> listed;
    if (auto set = clusters_->hosts(name)) {
      for (auto& h : set->hosts()) {
        hosts.emplace_back(h->address_string, h.get());
        listed.insert(h->address_string);
      }
    }
    if (config->type == upstream::DiscoveryType::kOriginalDst) {
      for (auto& [key, stats] : by_host) {
        auto [cluster, address] = split(key);
        if (cluster == name && !listed.count(address)) hosts.emplace_back(address, nullptr);
      }
    }
    nlohmann::json host_list = nlohmann::json::array();
    for (auto& [address, host] : hosts) {
      const std::string p = absl::StrCat(name, "::", address, "::");
      const auto& stats = by_host[absl::StrCat(name, "::", address)];
      nlohmann::json stat_list = nlohmann::json::array();
      for (const char* stat : kStatOrder) {
        auto it = stats.find(stat);
        uint64_t value = it == stats.end() ? 0 : it->second;
        absl::StrAppend(&out, p, stat, "::", value, "\n");
        stat_list.push_back({{"name", stat}, {"value", value}});
      }
      absl::StrAppend(&out, p, "hostname::", host ? host->hostname : "", "\n");
      const uint32_t flags = host ? clusters_->HealthFlags(name, address) : 0;
      std::string flag_text;
      if (flags & upstream::kFailedActiveHc) flag_text += "/failed_active_hc";
      if (flags & upstream::kFailedOutlierCheck) flag_text += "/failed_outlier_check";
      absl::StrAppend(&out, p, "health_flags::", flags ? flag_text : "healthy", "\n");
      absl::StrAppend(&out, p, "weight::", host ? host->weight : 1, "\n");
      absl::StrAppend(&out, p, "region::", host ? host->locality.region : "", "\n");
      absl::StrAppend(&out, p, "zone::", host ? host->locality.zone : "", "\n");
      absl::StrAppend(&out, p, "sub_zone::", host ? host->locality.sub_zone : "", "\n");
      absl::StrAppend(&out, p, "canary::false\n");
      absl::StrAppend(&out, p, "priority::", host ? host->priority : 0, "\n");
      const double success_rate = host ? clusters_->SuccessRate(name, address) : -1;
      absl::StrAppend(&out, p, "success_rate::", success_rate, "\n");
      nlohmann::json health_status = {{"eds_health_status", "HEALTHY"}};
      if (flags & upstream::kFailedActiveHc) health_status["failed_active_health_check"] = true;
      if (flags & upstream::kFailedOutlierCheck) health_status["failed_outlier_check"] = true;
      nlohmann::json host_json = {{"address", address},
                                  {"hostname", host ? host->hostname : ""},
                                  {"weight", host ? host->weight : 1},
                                  {"priority", host ? host->priority : 0},
                                  {"stats", stat_list},
                                  {"health_status", health_status}};
      if (success_rate >= 0) host_json["success_rate"] = {{"value", success_rate}};
      host_list.push_back(std::move(host_json));
    }
    statuses.push_back({{"name", name}, {"added_via_api", via_api}, {"host_statuses", host_list}});
  }
  if (json) {
    return AdminResponse{200, "application/json",
                         nlohmann::json{{"cluster_statuses", statuses}}.dump(2)};
  }
  return AdminResponse{200, "text/plain; charset=UTF-8", out};
}

void Server::InstallAdminHandlers() {
  auto text = [](std::string body, uint32_t status = 200) {
    return AdminResponse{status, "text/plain; charset=UTF-8", std::move(body)};
  };
  admin_->AddHandler("/ready", "print server state, return 200 if LIVE, otherwise return 503",
                     false, [this, text](auto, auto, const auto&) {
                       if (draining_) return text("DRAINING\n", 503);
                       // Envoy's INITIALIZING: the initial listeners are still warming.
                       return initializing_ ? text("INITIALIZING\n", 503) : text("LIVE\n");
                     });
  admin_->AddHandler(
      "/stats", "print server stats (?filter=, ?format=json|prometheus)", false,
      [this, text](auto, auto, const auto& query) {
        stats::Snapshot snap = stats_.Merge();
        auto format = query.find("format");
        if (format != query.end() && format->second == "json") {
          return AdminResponse{200, "application/json", stats::FormatJson(snap)};
        }
        if (format != query.end() && format->second == "prometheus") {
          return text(stats::FormatPrometheus(snap));
        }
        auto filter = query.find("filter");
        return text(stats::FormatText(snap, filter == query.end() ? "" : filter->second));
      });
  admin_->AddHandler("/stats/prometheus", "print server stats in prometheus format", false,
                     [this, text](auto, auto, const auto&) {
                       return text(stats::FormatPrometheus(stats_.Merge()));
                     });
  admin_->AddHandler(
      "/config_dump", "dump current Envoy configs", false, [this](auto, auto, const auto&) {
        if (dynamic_config_dump_.empty() && warming_listeners_.empty()) {
          return AdminResponse{200, "application/json", bootstrap_.config_dump_json};
        }
        nlohmann::json dump;
        if (dynamic_config_dump_.empty()) {
          dump = nlohmann::json::parse(bootstrap_.config_dump_json);
        } else {
          // The bootstrap as written, and what the xDS client holds.
          dump = {{"bootstrap", nlohmann::json::parse(bootstrap_.config_dump_json)},
                  {"dynamic", nlohmann::json::parse(dynamic_config_dump_)}};
        }
        // Listeners not serving yet (the name of Envoy's v2 ListenersConfigDump field), with
        // what each still waits for.
        if (!warming_listeners_.empty()) {
          nlohmann::json warming = nlohmann::json::array();
          for (const auto& [name, listener] : warming_listeners_) {
            warming.push_back(
                {{"name", name}, {"warming_state", {{"waiting_for", WarmingTargets(listener)}}}});
          }
          dump["dynamic_warming_listeners"] = std::move(warming);
        }
        return AdminResponse{200, "application/json", dump.dump(2)};
      });
  admin_->AddHandler("/clusters", "upstream cluster status (?format=json)", false,
                     [this](auto, auto, const auto& query) {
                       return ClustersPage(query.count("format") && query.at("format") == "json");
                     });
  admin_->AddHandler(
      "/listeners", "print listener info (?format=json)", false,
      [this, text](auto, auto, const auto& query) {
        bool json = query.count("format") && query.at("format") == "json";
        nlohmann::json list = nlohmann::json::array();
        std::string out;
        for (auto& l : listeners_) {
          absl::StrAppend(&out, l->config->name, "::", l->address.ToString(), "\n");
          list.push_back(
              {{"name", l->config->name},
               {"local_address",
                {{"socket_address",
                  {{"address", l->address.IpString()}, {"port_value", l->address.port()}}}}}});
        }
        if (json) {
          return AdminResponse{200, "application/json",
                               nlohmann::json{{"listener_statuses", list}}.dump(2)};
        }
        return text(out);
      });
  admin_->AddHandler(
      "/logging", "query/change logging levels (?level=debug)", true,
      [text](auto, auto, const auto& query) {
        auto level = query.find("level");
        if (level != query.end() && !log::SetLevel(level->second)) {
          return text(
              absl::StrCat(
                  "error: unknown logging level '", level->second,
                  "'\nusage: /logging?level=<trace|debug|info|warning|error|critical|off>\n"),
              400);
        }
        return text(absl::StrCat("active loggers:\n  weft: ", std::string(log::LevelName()), "\n"));
      });
  admin_->AddHandler("/reopen_logs", "reopen access logs (after log rotation)", true,
                     [this, text](auto, auto, const auto&) {
                       return text(absl::StrCat("OK: ", ReopenAccessLogs(), " file(s)\n"));
                     });
  admin_->AddHandler(
      "/drain_listeners",
      "drain listeners (stop accepting; HTTP connections close after their current request)", true,
      [this, text](auto, auto, const auto&) {
        Drain(false);
        return text("OK\n");
      });
  admin_->AddHandler("/quitquitquit", "exit the server", true,
                     [this, text](auto, auto, const auto&) {
                       // Answer first; exit on the next loop iteration.
                       dispatcher_.Post([this] { Shutdown(); });
                       return text("OK\n");
                     });
  admin_->AddHandler(
      "/server_info", "print server version/status information", false,
      [this](auto, auto, const auto&) {
        auto uptime =
            std::chrono::duration_cast<std::chrono::seconds>(dispatcher_.Now() - start_time_);
        nlohmann::json info = {
            {"version", "weft-proxy/0.1.0"},
            {"state", draining_       ? "DRAINING"
                      : initializing_ ? "INITIALIZING"
                                      : "LIVE"},
            {"uptime_current_epoch", absl::StrCat(uptime.count(), "s")},
            {"node", {{"id", bootstrap_.node.id}, {"cluster", bootstrap_.node.cluster}}},
            {"command_line_options",
             {{"concurrency", options_.concurrency},
              {"drain_time", absl::StrCat(options_.drain_time.count(), "s")}}}};
        return AdminResponse{200, "application/json", info.dump(2)};
      });
}

}  // namespace weft::proxy
