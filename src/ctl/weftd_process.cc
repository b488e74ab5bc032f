#include "ctl/weftd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "ctl/client.h"
#include "ctl/install_values.h"

namespace weft::ctl {
namespace {

namespace fs = std::filesystem;

std::string ReadLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// 'Z' (zombie) or 'X' (dead) in /proc/<pid>/stat: exited, only not yet reaped.
bool Exited(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.empty()) return true;
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  const char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

// Reaps `pid` when it is our child (it is while StartWeftd waits); harmless otherwise.
void Reap(int pid) { waitpid(pid, nullptr, WNOHANG); }

bool WaitExited(int pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    Reap(pid);
    if (Exited(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Exited(pid);
}

bool ToSockaddr(const std::string& address, sockaddr_in* sa) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) return false;
  if (host == "localhost") host = "127.0.0.1";
  *sa = sockaddr_in{};
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, host.c_str(), &sa->sin_addr) == 1;
}

}  // namespace

fs::path SelfPath() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self;
}

std::string FindProgram(const std::string& name) {
  const fs::path sibling = SelfPath().parent_path() / name;
  if (access(sibling.c_str(), X_OK) == 0) return sibling.string();
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

fs::path MeshRootCertPath(const fs::path& control_plane_dir) {
  return control_plane_dir / "data" / "ca" / "root-cert.pem";
}

bool StartWeftd(const WeftdLaunch& l, std::chrono::seconds timeout, StartedWeftd* started,
                std::string* error) {
  const fs::path log = l.dir / "weftd.log", api_file = l.dir / "api-address",
                 xds_file = l.dir / "xds-address", xds_tls_file = l.dir / "xds-tls-address";
  std::error_code ec;
  fs::create_directories(l.dir / "data", ec);
  fs::remove(api_file, ec);
  fs::remove(xds_file, ec);
  fs::remove(xds_tls_file, ec);
  std::vector<std::string> args = {l.binary,
                                   "--data-dir",
                                   (l.dir / "data").string(),
                                   "--api-addr",
                                   l.api_address,
                                   "--xds-addr",
                                   l.xds_address,
                                   "--api-address-path",
                                   api_file.string(),
                                   "--xds-address-path",
                                   xds_file.string(),
                                   "--xds-tls-addr",
                                   l.xds_tls_address,
                                   "--xds-tls-address-path",
                                   xds_tls_file.string(),
                                   "--workload-cert-ttl",
                                   l.workload_cert_ttl,
                                   "--mesh-config",
                                   (l.dir / "mesh-config.yaml").string(),
                                   "--revision",
                                   l.revision,
                                   "--registration-grace",
                                   l.registration_grace,
                                   "--log-level",
                                   l.log_level};
  if (!l.cacerts.empty()) {
    args.push_back("--cacerts");
    args.push_back(l.cacerts);
  }
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = log.string() + ": cannot be opened for writing";
    return false;
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    // The service's own session (no controlling terminal), stdin from /dev/null, its output in
    // the log. Only async-signal-safe calls between fork and exec.
    setsid();
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  {
    std::ofstream pid_file(l.dir / "weftd.pid", std::ios::trunc);
    pid_file << pid << "\n";
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fs::remove(l.dir / "weftd.pid", ec);
      *error = "weftd exited (" +
               (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                  : "signal " + std::to_string(WTERMSIG(status))) +
               ") before it was ready; the end of " + log.string() + ":\n" + Tail(log, 15);
      return false;
    }
    const std::string api = ReadLine(api_file), xds = ReadLine(xds_file),
                      xds_tls = ReadLine(xds_tls_file);
    if (!api.empty() && !xds.empty() && !xds_tls.empty()) {
      // The address files are written once both servers listen; /version proves the API serves.
      const int saved = dup(2);
      const int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 2);  // the client's "connection refused" while weftd comes up is expected
      Response r = Client(api).Get("/version");
      dup2(saved, 2);
      close(saved);
      close(null_fd);
      if (r.status == 200) {
        *started = StartedWeftd{pid, api, xds, xds_tls};
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  fs::remove(l.dir / "weftd.pid", ec);
  *error = "weftd did not answer GET /version within " + std::to_string(timeout.count()) +
           " s (stopped it); the end of " + log.string() + ":\n" + Tail(log, 15);
  return false;
}

bool IsWeftd(int pid) {
  if (pid <= 0 || Exited(pid)) return false;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code ec;
  fs::path exe = fs::read_symlink(proc + "/exe", ec);
  std::string name = exe.filename().string();
  // A binary replaced on disk (a rebuild, an upgrade) reads "weftd (deleted)".
  if (!ec && (name == "weftd" || name == "weftd (deleted)")) return true;
  std::ifstream cmdline(proc + "/cmdline");
  std::string argv0;
  std::getline(cmdline, argv0, '\0');
  return fs::path(argv0).filename() == "weftd";
}

bool StopWeftd(int pid, std::chrono::seconds timeout, std::string* error) {
  if (!IsWeftd(pid)) {
    *error = "pid " + std::to_string(pid) + " is not a running weftd";
    return false;
  }
  kill(pid, SIGTERM);
  if (WaitExited(pid, timeout)) return true;
  kill(pid, SIGKILL);
  WaitExited(pid, std::chrono::seconds(5));
  return true;
}

std::string Tail(const fs::path& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back("  " + line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& line : last) out += line + "\n";
  return out;
}

bool PortFree(const std::string& address) {
  sockaddr_in sa{};
  if (!ToSockaddr(address, &sa)) return true;  // not ours to judge: weftd will say
  if (sa.sin_port == 0) return true;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as weftd binds
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  close(fd);
  return ok;
}

int ConnectTcp(const std::string& address) {
  sockaddr_in sa{};
  if (!ToSockaddr(address, &sa)) return -1;
  if (sa.sin_addr.s_addr == htonl(INADDR_ANY)) sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool Accepting(const std::string& address) {
  const int fd = ConnectTcp(address);
  if (fd < 0) return false;
  close(fd);
  return true;
}

}  // namespace weft::ctl
