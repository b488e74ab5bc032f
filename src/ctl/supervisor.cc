#include "ctl/supervisor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <thread>

#include "ctl/client.h"
#include "ctl/ipam.h"
#include "ctl/json_fields.h"
#include "ctl/netns.h"
#include "ctl/output.h"
#include "ctl/process.h"
#include "ctl/sidecar_bootstrap.h"
#include "ctl/weft_home.h"
#include "ctl/workload_identity.h"
#include "ctl/workload_service.h"

namespace weft::ctl {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Istio's defaults: the sidecar waits up to terminationDrainDuration (5 s) for connections to
// finish; the application gets a SIGTERM and, like a pod's terminationGracePeriod but shorter,
// 5 s before SIGKILL.
constexpr int kDrainSeconds = 5;
constexpr auto kAppGrace = seconds(5);
constexpr auto kReadyTimeout = seconds(60);
constexpr auto kAppSettle = seconds(1);  // "up" = still running after this

void Log(const char* fmt, const std::string& a = "", const std::string& b = "") {
  std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%FT%TZ", std::gmtime(&now));
  std::fprintf(stderr, "%s supervisor: ", stamp);
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fprintf(stderr, "\n");
}

// GET http://127.0.0.1:<port><path>. The socket is made inside `netns_fd` when it is >= 0 (a
// socket belongs to the namespace it was created in; connect() then happens there).
AdminAnswer AdminGet(int host_ns, int netns_fd, int port, const std::string& path) {
  AdminAnswer answer;
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) return answer;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (netns_fd >= 0) setns(host_ns, CLONE_NEWNET);
  if (fd < 0) return answer;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return answer;
  }
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return answer;
  }
  std::string raw;
  char buf[16384];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || head_end == std::string::npos) return answer;
  answer.status = std::atoi(raw.c_str() + 9);
  answer.body = raw.substr(head_end + 4);
  return answer;
}

// Whether `pid` still runs a command whose command line mentions `needle` (a pid recorded by a
// supervisor that died long ago may belong to someone else by now).
bool RunsCommand(pid_t pid, const std::string& needle) {
  if (!Alive(pid)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(needle) != std::string::npos;
}

// Waits for a child of ours to exit; true when it did within `timeout`.
bool WaitChild(pid_t pid, Clock::duration timeout, int* status) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace

AdminAnswer SidecarAdminGet(const WorkloadRecord& w, const std::string& path) {
  if (w.admin_port <= 0) return {};
  const int host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int pod_ns = w.capture ? open(("/run/netns/" + w.netns).c_str(), O_RDONLY | O_CLOEXEC) : -1;
  AdminAnswer answer;
  if (!w.capture || pod_ns >= 0) answer = AdminGet(host_ns, pod_ns, w.admin_port, path);
  for (int fd : {host_ns, pod_ns}) {
    if (fd >= 0) close(fd);
  }
  return answer;
}

namespace {

class Supervisor {
 public:
  Supervisor(WorkloadRecord w, int report_fd) : w_(std::move(w)), report_fd_(report_fd) {}

  void Run() {
    dir_ = WorkloadDir(w_.name);
    host_ns_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (w_.capture) pod_ns_ = open(("/run/netns/" + w_.netns).c_str(), O_RDONLY | O_CLOEXEC);
    w_.supervisor_pid = getpid();
    std::ofstream(dir_ / "supervisor.pid") << getpid() << "\n";
    SetStatus("starting");

    std::string error;
    if (!StartProxy(&error) || !StartApp(&error)) {
      Log("%s", error);
      StopApp();
      StopProxy();
      TearDownWorkload(w_);
      Report(error);  // after the cleanup: add-to-mesh exits once everything is gone
      return;
    }
    SetStatus("running");
    Report("");
    Loop();
    TearDownWorkload(w_);
    Log("workload %s removed", w_.name);
  }

 private:
  void Loop() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
    while (true) {
      timespec tick{1, 0};
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGTERM || sig == SIGINT) {
        Log("signal %s: stopping the application, then the sidecar", std::to_string(sig));
        SetStatus("stopping");
        StopApp();
        StopProxy();
        return;
      }
      if (sig == SIGHUP) {
        RestartProxy();
        continue;
      }
      bool app_exited = false, proxy_died = false;
      int status = 0;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == w_.app_pid) {
          Log("the application exited with status %s: draining the sidecar",
              std::to_string(ExitCode(status)));
          w_.app_pid = 0;
          app_exited = true;
        } else if (pid == w_.proxy_pid) {
          Log("the sidecar exited on its own with status %s; starting it again",
              std::to_string(ExitCode(status)));
          w_.proxy_pid = 0;
          proxy_died = true;
        }
      }
      if (app_exited) {
        SetStatus("stopping");
        StopProxy();
        return;
      }
      if (proxy_died) {
        std::this_thread::sleep_for(seconds(1));
        std::string error;
        if (!StartProxy(&error)) Log("%s", error);
        Save();
      }
    }
  }

  // restart-proxy leaves the new control plane's addresses in restart-request.json before
  // signalling (workload.json has one writer once the supervisor runs: the supervisor).
  void RestartProxy() {
    std::string error;
    const auto request_path = dir_ / kRestartRequestFile;
    if (std::ifstream in(request_path); in) {
      auto request = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (request.is_object()) {
        w_.revision = request.value("revision", w_.revision);
        w_.server = request.value("server", w_.server);
        w_.xds_address = request.value("xdsAddress", w_.xds_address);
        w_.ca_address = request.value("caAddress", w_.ca_address);
        w_.trust_domain = request.value("trustDomain", w_.trust_domain);
        w_.ports = request.contains("ports") ? PortsFromJson(request["ports"]) : w_.ports;
      }
    }
    std::error_code ec;
    std::filesystem::remove(request_path, ec);
    Log("SIGHUP: replacing the sidecar (revision %s)", w_.revision);
    SetStatus("restarting-proxy");
    StopProxy();
    if (!StartProxy(&error)) {
      Log("%s", error);
      SetStatus("failed: " + error);
      return;
    }
    SetStatus("running");
  }

  // The identity files, opened for the sidecar to inherit: it reads them as /proc/self/fd/N, since
  // Istio's proxy uid may not be allowed to walk down to the workload directory (a 0700 WEFT_HOME),
  // while the files themselves are its own. Closed again once the sidecar is started.
  struct InheritedFiles {
    int token = -1, root = -1;
    ~InheritedFiles() {
      for (int fd : {token, root}) {
        if (fd >= 0) close(fd);
      }
    }
  };

  bool OpenIdentity(InheritedFiles* files, std::string* error) const {
    if (w_.ca_address.empty()) return true;
    const IdentityFiles paths = WorkloadIdentityFiles(w_.name);
    files->token = open(paths.token.c_str(), O_RDONLY);  // no O_CLOEXEC: for the sidecar
    files->root = open(paths.root_cert.c_str(), O_RDONLY);
    if (files->token < 0 || files->root < 0) {
      *error = "the workload's identity files (" + paths.dir.string() +
               ") cannot be opened: " + std::strerror(errno);
      return false;
    }
    return true;
  }

  std::vector<std::string> ProxyArgv(const std::string& bootstrap,
                                     const InheritedFiles& identity) const {
    std::vector<std::string> argv;
    if (w_.capture) {
      // In the pod's namespace (with its resolv.conf), as Istio's proxy uid/gid, which the
      // capture rules exclude.
      const std::string id = std::to_string(kProxyUid);
      argv = {"ip", "netns",   "exec", w_.netns,         "setpriv", "--reuid",
              id,   "--regid", id,     "--clear-groups", "--",      w_.proxy_binary};
    } else {
      argv = {w_.proxy_binary, "--admin-address-path", (dir_ / "admin.addr").string()};
    }
    // Istio's sidecar default concurrency is 2 worker threads.
    for (const std::string& a :
         {std::string("--config-yaml"), bootstrap, std::string("--concurrency"), std::string("2"),
          std::string("--drain-time-s"), std::to_string(kDrainSeconds)}) {
      argv.push_back(a);
    }
    if (identity.token >= 0) {
      // pilot-agent's CA_ADDR, the mesh root and the token: the identity agent in weft-proxy.
      const std::string fd_dir = "/proc/self/fd/";
      for (const std::string& a :
           {std::string("--ca-addr"), w_.ca_address, std::string("--ca-root-cert"),
            fd_dir + std::to_string(identity.root), std::string("--ca-token-file"),
            fd_dir + std::to_string(identity.token), std::string("--trust-domain"),
            w_.trust_domain}) {
        argv.push_back(a);
      }
    }
    return argv;
  }

  bool StartProxy(std::string* error) {
    // The bootstrap goes on the command line (JSON is YAML): the proxy's uid may not be able to
    // read the workload directory. bootstrap.yaml is the same, for people to read.
    // With an identity, ADS goes over TLS, verified against the workload's copy of the root.
    std::string mesh_root;
    if (!w_.ca_address.empty()) {
      std::ifstream root_in(WorkloadIdentityFiles(w_.name).root_cert);
      mesh_root.assign(std::istreambuf_iterator<char>(root_in), std::istreambuf_iterator<char>());
    }
    nlohmann::json bootstrap = SidecarBootstrap(w_, mesh_root);
    std::ofstream(dir_ / "bootstrap.yaml", std::ios::trunc) << ToYaml(bootstrap);
    std::error_code ec;
    std::filesystem::remove(dir_ / "admin.addr", ec);
    InheritedFiles identity;
    if (!OpenIdentity(&identity, error)) return false;
    SpawnOptions options;
    options.log_path = (dir_ / "proxy.log").string();
    // gRPC's own resolver reads DNS only; the CA's name is in the pod's /etc/hosts.
    if (!w_.ca_address.empty()) options.env["GRPC_DNS_RESOLVER"] = "native";
    w_.proxy_pid = Spawn(ProxyArgv(bootstrap.dump(), identity), options, error);
    if (w_.proxy_pid < 0) {
      w_.proxy_pid = 0;
      return false;
    }
    Save();
    Log("sidecar started (pid %s), waiting until it is ready", std::to_string(w_.proxy_pid));
    return WaitProxyReady(error);
  }

  int AdminPort() const {
    if (w_.capture) return kAdminPort;
    std::ifstream in(dir_ / "admin.addr");
    std::string address;
    in >> address;
    size_t colon = address.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(address.c_str() + colon + 1);
  }

  // Ready = the admin answers /ready with 200 and the sidecar holds listeners from weftd (so the
  // application's first connection finds them), Istio's holdApplicationUntilProxyStarts. The
  // count must hold for two probes in a row: a listener waiting for its RDS is not listed yet
  // (weft-proxy's admin shows no warming listeners), and weftd sends RDS right after LDS.
  bool WaitProxyReady(std::string* error) {
    const auto deadline = Clock::now() + kReadyTimeout;
    size_t last_count = 0;
    while (Clock::now() < deadline) {
      if (StopRequested()) {
        *error = "stopped (SIGTERM) before the sidecar was ready";
        return false;
      }
      int status = 0;
      if (waitpid(w_.proxy_pid, &status, WNOHANG) == w_.proxy_pid) {
        w_.proxy_pid = 0;
        *error = "the sidecar exited with status " + std::to_string(ExitCode(status)) + "; see " +
                 (dir_ / "proxy.log").string() + ":\n" + Tail((dir_ / "proxy.log").string(), 10);
        return false;
      }
      if (int port = AdminPort(); port > 0) {
        if (AdminGet(host_ns_, pod_ns_, port, "/ready").status == 200) {
          AdminAnswer listeners = AdminGet(host_ns_, pod_ns_, port, "/listeners?format=json");
          // Envoy's /listeners?format=json: {"listener_statuses": [{name, local_address}...]}.
          auto page = nlohmann::json::parse(listeners.body, nullptr, false);
          const nlohmann::json& list = Items(page, "listener_statuses");
          const size_t count = listeners.status == 200 ? list.size() : 0;
          const bool stable = count > 0 && count == last_count;
          last_count = count;
          if (stable) {
            w_.admin_port = port;
            Log("sidecar ready with %s listener(s)", std::to_string(list.size()));
            return true;
          }
        }
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    *error = "the sidecar was not ready after " +
             std::to_string(std::chrono::duration_cast<seconds>(kReadyTimeout).count()) +
             " s (no listeners from weftd at " + w_.xds_address + "); see " +
             (dir_ / "proxy.log").string();
    return false;
  }

  // remove-from-mesh while the sidecar is still starting: SIGTERM is blocked (sigtimedwait
  // takes it in Loop), so it is pending here.
  static bool StopRequested() {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
  }

  std::map<std::string, std::string> AppEnvironment() const {
    std::map<std::string, std::string> env = {{"WEFT_WORKLOAD", w_.name},
                                              {"WEFT_NAMESPACE", w_.ns},
                                              {"WEFT_SERVICE", w_.service},
                                              {"WEFT_INSTANCE_IP", w_.ip}};
    if (!w_.capture) {
      // No capture: the application listens where the sidecar's inbound cluster sends
      // (127.0.0.1:<port>) and calls its upstreams on the --upstream addresses.
      env["WEFT_LISTEN_ADDRESS"] = "127.0.0.1";
      env["WEFT_OUTBOUND_ADDRESS"] = w_.outbound_ip;
      std::string upstreams;
      for (const auto& u : w_.upstreams) {
        if (!upstreams.empty()) upstreams += ",";
        upstreams += u.service + ":" + std::to_string(u.port) + "=" + u.local_address;
        // <SERVICE>_URL, the variable the Bookinfo sample reads (unless the user set it).
        std::string var;
        for (char c : u.service) {
          var += c == '-' || c == '.' ? '_' : static_cast<char>(std::toupper(c));
        }
        var += "_URL";
        if (std::getenv(var.c_str()) == nullptr) env[var] = "http://" + u.local_address;
      }
      env["WEFT_UPSTREAMS"] = upstreams;
    }
    return env;
  }

  bool StartApp(std::string* error) {
    std::vector<std::string> argv;
    if (w_.capture) argv = {"ip", "netns", "exec", w_.netns};
    if (w_.app_uid != getuid()) {
      argv.insert(argv.end(), {"setpriv", "--reuid", std::to_string(w_.app_uid), "--regid",
                               std::to_string(w_.app_gid), "--clear-groups", "--"});
    }
    argv.insert(argv.end(), w_.command.begin(), w_.command.end());
    SpawnOptions options;
    options.log_path = (dir_ / "app.log").string();
    options.env = AppEnvironment();
    w_.app_pid = Spawn(argv, options, error);
    if (w_.app_pid < 0) {
      w_.app_pid = 0;
      return false;
    }
    Save();
    Log("application started (pid %s)", std::to_string(w_.app_pid));
    int status = 0;
    if (WaitChild(w_.app_pid, kAppSettle, &status)) {
      w_.app_pid = 0;
      *error = CommandLine(w_.command) + " exited at once with status " +
               std::to_string(ExitCode(status)) + "; see " + (dir_ / "app.log").string() +
               " (last lines):\n" + Tail((dir_ / "app.log").string(), 10);
      return false;
    }
    return true;
  }

  void StopApp() {
    if (w_.app_pid <= 0) return;
    kill(-w_.app_pid, SIGTERM);  // its process group: a shell's children too
    kill(w_.app_pid, SIGTERM);
    int status = 0;
    if (!WaitChild(w_.app_pid, kAppGrace, &status)) {
      Log("the application did not exit within 5 s of SIGTERM: SIGKILL");
      kill(-w_.app_pid, SIGKILL);
      kill(w_.app_pid, SIGKILL);
      WaitChild(w_.app_pid, seconds(5), &status);
    }
    w_.app_pid = 0;
    Save();
  }

  void StopProxy() {
    if (w_.proxy_pid <= 0) return;
    kill(w_.proxy_pid, SIGTERM);  // weft-proxy drains its listeners, then exits
    int status = 0;
    if (!WaitChild(w_.proxy_pid, seconds(kDrainSeconds + 5), &status)) {
      Log("the sidecar did not exit after its drain: SIGKILL");
      kill(w_.proxy_pid, SIGKILL);
      WaitChild(w_.proxy_pid, seconds(5), &status);
    }
    w_.proxy_pid = 0;
    Save();
  }

  void SetStatus(const std::string& status) {
    w_.status = status;
    Save();
  }

  void Save() {
    std::string error;
    if (!WriteWorkload(w_, &error)) Log("%s", error);
  }

  void Report(const std::string& message) {
    if (report_fd_ < 0) return;
    std::string line = message.empty() ? "ok\n" : message;
    ssize_t ignored = write(report_fd_, line.data(), line.size());
    (void)ignored;
    close(report_fd_);
    report_fd_ = -1;
  }

  WorkloadRecord w_;
  int report_fd_;
  int host_ns_ = -1, pod_ns_ = -1;
  std::filesystem::path dir_;
};

}  // namespace

int RunSupervisor(const std::string& name, int report_fd) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  fcntl(report_fd, F_SETFD, FD_CLOEXEC);  // not for the sidecar and the application
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int log_fd = open((WorkloadDir(name) / "supervisor.log").c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  dup2(null_fd, 0);
  if (log_fd >= 0) {
    dup2(log_fd, 1);
    dup2(log_fd, 2);
  }
  std::string error;
  auto w = ReadWorkload(name, &error);
  if (!w) {
    std::string message = "workload " + name + ": " + error;
    Log("%s", message);
    ssize_t ignored = write(report_fd, message.data(), message.size());
    (void)ignored;
    return 1;
  }
  Supervisor(*w, report_fd).Run();
  return 0;
}

std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "  | " + l + "\n";
  return out;
}

void TearDownWorkload(const WorkloadRecord& w) {
  if (RunsCommand(w.app_pid, w.command.empty() ? "" : w.command.front())) {
    kill(-w.app_pid, SIGKILL);
    kill(w.app_pid, SIGKILL);
  }
  if (RunsCommand(w.proxy_pid, "weft-proxy")) kill(w.proxy_pid, SIGKILL);
  if (w.capture) DeletePodNetwork(w);
  RemoveIdentity(w.name);  // the token must not outlive the workload
  std::string error;
  if (auto ipam = Ipam::Lock(&error)) {
    ipam->Release(w.name);
    if (auto subnet = ParseCidr(w.subnet); w.capture && subnet) {
      DeleteBridgeIfUnused(w.bridge, *subnet, *ipam);
    }
    if (!ipam->Save(&error)) Log("%s", error);
  } else {
    Log("%s", error);
  }
  std::error_code ec;
  const auto dir = WorkloadDir(w.name);
  for (const char* file : {"workload.json", "supervisor.pid", "admin.addr"}) {
    std::filesystem::remove(dir / file, ec);
  }
  // After our own workload.json is gone, so two last workloads leaving at once do not each
  // see the other and both keep the service.
  DeleteServiceIfUnused(w);
}

std::string StartSupervisor(const std::string& name) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  std::fflush(nullptr);
  pid_t child = fork();
  if (child < 0) return std::string("fork: ") + std::strerror(errno);
  if (child == 0) {
    // First child: a new session, then fork again and exit, so the supervisor has no
    // controlling terminal and is nobody's child but init's (or the nearest subreaper's). It
    // execs `weftctl __supervise NAME` so that ps shows what it is.
    close(report[0]);
    setsid();
    if (fork() != 0) _exit(0);
    constexpr int kReportFd = 3;
    if (report[1] == kReportFd) {
      fcntl(kReportFd, F_SETFD, 0);
    } else {
      dup2(report[1], kReportFd);
    }
    std::string self = "/proc/self/exe";
    std::vector<std::string> argv = {"weftctl", "__supervise", name, "--report-fd",
                                     std::to_string(kReportFd)};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(self.c_str(), args.data());
    _exit(127);
  }
  close(report[1]);
  int status = 0;
  waitpid(child, &status, 0);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = read(report[0], buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  close(report[0]);
  if (answer == "ok\n") return "";
  if (answer.empty())
    return "the supervisor exited without a word; see " +
           (WorkloadDir(name) / "supervisor.log").string();
  return answer;
}

}  // namespace weft::ctl
