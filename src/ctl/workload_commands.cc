#include "ctl/workload_commands.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "ctl/client.h"
#include "ctl/ipam.h"
#include "ctl/netns.h"
#include "ctl/output.h"
#include "ctl/process.h"
#include "ctl/sidecar_bootstrap.h"
#include "ctl/supervisor.h"
#include "ctl/weft_home.h"
#include "ctl/weftd_process.h"
#include "ctl/workload.h"
#include "ctl/workload_identity.h"
#include "ctl/workload_service.h"

namespace weft::ctl {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultBridge = "weft0";
constexpr const char* kDefaultSubnet = "10.250.0.0/16";
// No-capture workloads take loopback addresses from 127.0.0.20 on: the first few are what
// people (and tests) use by hand.
constexpr uint32_t kFirstLoopbackOffset = 20;

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string Revision(const std::string& revision) {
  return revision.empty() ? kDefaultRevision : revision;
}

// values.a.b as a string, `fallback` when absent or empty.
std::string Value(const nlohmann::json& values, const char* a, const char* b,
                  const std::string& fallback) {
  if (!values.is_object() || !values.contains(a) || !values[a].is_object()) return fallback;
  const auto& o = values[a];
  if (!o.contains(b) || !o[b].is_string() || o[b].get<std::string>().empty()) return fallback;
  return o[b].get<std::string>();
}

// The control plane of `revision`: its install record, or a message saying why there is none.
std::optional<InstallRecord> ControlPlane(const std::string& revision, std::string* error) {
  auto record = ReadInstallRecord(revision, error);
  if (!record && error->empty()) {
    *error = "no control plane installed (revision " + Revision(revision) + ", no " +
             (ControlPlaneDir(revision) / "install.json").string() +
             "): run `weftctl install` first";
  }
  if (record && record->xds_address.rfind(':') == std::string::npos) {
    *error = (ControlPlaneDir(revision) / "install.json").string() + ": xdsAddress '" +
             record->xds_address + "' has no port";
    return std::nullopt;
  }
  return record;
}

std::string XdsPort(const InstallRecord& record) {
  return record.xds_address.substr(record.xds_address.rfind(':') + 1);
}

// Whether HOST:PORT (TCP) can be bound right now, i.e. nothing listens there.
bool CanBind(const std::string& ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// The user the sidecar runs as: Istio's proxy uid in a captured pod (the capture rules exclude
// it), else the supervisor's own (weftctl's).
void SidecarUser(const WorkloadRecord& w, uid_t* uid, gid_t* gid) {
  *uid = w.capture ? kProxyUid : geteuid();
  *gid = w.capture ? kProxyUid : getegid();
}

// The workload's identity from `control_plane`: the CA address its sidecar dials, a token from
// weftd and the mesh root in <workload dir>/identity. A control plane recorded without a TLS port
// (installed by an older weftctl) gives none, with a warning.
bool GiveIdentity(Client& client, const InstallRecord& control_plane, WorkloadRecord& w,
                  std::vector<std::string>* warnings, std::string* error) {
  w.trust_domain = Value(control_plane.values, "meshConfig", "trustDomain", "cluster.local");
  w.ca_address = SidecarCaAddress(w.capture, control_plane.xds_tls_address);
  if (w.ca_address.empty()) {
    RemoveIdentity(w.name);
    warnings->push_back("control plane revision " + Revision(control_plane.revision) +
                        " has no CA port recorded (installed by an older weftctl; `weftctl "
                        "upgrade` adds it): the sidecar of " +
                        w.name + " starts without a workload certificate");
    return true;
  }
  uid_t uid = 0;
  gid_t gid = 0;
  SidecarUser(w, &uid, &gid);
  return ProvisionIdentity(client, w, MeshRootCertPath(ControlPlaneDir(control_plane.revision)),
                           uid, gid, error);
}

std::string ProxyBinary() {
  if (const char* env = std::getenv("WEFT_PROXY"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "weft-proxy";
    if (access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return "weft-proxy";  // from PATH
}

// The user who ran weftctl, also under sudo: the application runs as them.
void InvokingUser(uid_t* uid, gid_t* gid) {
  *uid = getuid();
  *gid = getgid();
  const char* sudo_uid = std::getenv("SUDO_UID");
  const char* sudo_gid = std::getenv("SUDO_GID");
  if (geteuid() == 0 && sudo_uid != nullptr && sudo_gid != nullptr) {
    *uid = static_cast<uid_t>(std::strtoul(sudo_uid, nullptr, 10));
    *gid = static_cast<gid_t>(std::strtoul(sudo_gid, nullptr, 10));
  }
}

// Claims the name: workload.json created exclusively, so two add-to-mesh of one name cannot
// both proceed.
bool ClaimName(const std::string& name, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(WorkloadDir(name), ec);
  int fd = open(WorkloadFile(name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = errno == EEXIST ? "a workload named " + name +
                                   " already exists (weftctl workloads lists them; "
                                   "weftctl remove-from-mesh " +
                                   name + " removes it)"
                             : WorkloadFile(name).string() + ": " + std::strerror(errno);
    return false;
  }
  close(fd);
  return true;
}

bool AllocateLoopback(WorkloadRecord& w, std::string* error) {
  auto ipam = Ipam::Lock(error);
  if (!ipam) return false;
  Cidr loopback{0x7f000000U, 8};
  // The instance address must have every workload port free (the sidecar's inbound listeners
  // bind <ip>:<port>).
  auto ports_free = [&](const std::string& ip) {
    for (const auto& p : w.ports) {
      if (!CanBind(ip, p.AppPort())) return false;
    }
    return true;
  };
  auto ip = ipam->Allocate(loopback, kFirstLoopbackOffset, w.name, ports_free);
  auto outbound = ipam->Allocate(loopback, kFirstLoopbackOffset, w.name + "/outbound", nullptr);
  if (!ip || !outbound) {
    *error = "no free loopback address left";
    return false;
  }
  w.ip = *ip;
  w.outbound_ip = *outbound;
  return ipam->Save(error);
}

bool AllocatePodAddress(WorkloadRecord& w, std::string* error) {
  auto subnet = ParseCidr(w.subnet);
  if (!subnet) {
    *error = "network.subnet '" + w.subnet + "': not an IPv4 prefix between /8 and /30";
    return false;
  }
  auto ipam = Ipam::Lock(error);
  if (!ipam) return false;
  w.gateway = FormatIpv4(subnet->Host(1));
  // The bridge is made under the lock, so a workload leaving at the same time cannot delete it
  // between its creation and our address being recorded.
  bool bridged = EnsureBridge(w.bridge, *subnet, *ipam, error);
  auto ip = bridged ? ipam->Allocate(*subnet, 2, w.name, nullptr) : std::nullopt;
  if (bridged && !ip) *error = "no free address left in " + w.subnet;
  if (ip) w.ip = *ip;
  std::string save_error;
  if (!ipam->Save(&save_error) && ip) {
    *error = save_error;
    return false;
  }
  return ip.has_value();
}

void PrintAdded(const WorkloadRecord& w, const std::vector<std::string>& warnings) {
  const auto dir = WorkloadDir(w.name);
  std::printf("workload %s added to the mesh\n", w.name.c_str());
  std::printf("  namespace:   %s\n", w.ns.c_str());
  std::printf("  service:     %s (ServiceEntry %s)\n", w.service.c_str(),
              w.created_service ? "created" : "existing");
  if (w.capture) {
    std::printf("  address:     %s (netns %s, veth %s on bridge %s, gateway %s)\n", w.ip.c_str(),
                w.netns.c_str(), w.veth.c_str(), w.bridge.c_str(), w.gateway.c_str());
  } else {
    std::printf("  address:     %s (no capture; outbound listeners on %s)\n", w.ip.c_str(),
                w.outbound_ip.c_str());
  }
  std::printf("  sidecar:     pid %d, node %s, admin 127.0.0.1:%d%s\n", w.proxy_pid,
              SidecarNodeId(w).c_str(), w.admin_port, w.capture ? " (in the netns)" : "");
  std::printf("  application: pid %d\n", w.app_pid);
  std::printf("  logs:        %s, %s, %s\n", (dir / "app.log").c_str(), (dir / "proxy.log").c_str(),
              (dir / "supervisor.log").c_str());
  std::printf("  remove with: weftctl remove-from-mesh %s\n", w.name.c_str());
  for (const auto& warning : warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());
}

int AddToMesh(const WorkloadCommandLine& cli, const std::string& server_flag, const std::string& ns,
              const std::string& fallback_revision) {
  WorkloadRecord w;
  w.name = cli.name;
  w.ns = ns;
  w.service = cli.service;
  w.service_account = cli.service_account;
  // Always named, "default" included: other commands (uninstall) read it from workload.json.
  w.revision = Revision(cli.revision.empty() ? fallback_revision : cli.revision);
  w.capture = !cli.no_capture;
  w.command = cli.command;
  std::string error;
  if (!ValidWorkloadName(w.name)) {
    return Fail("workload name '" + w.name +
                "': lowercase letters, digits and '-', at most 53 characters");
  }
  if (!ValidWorkloadName(w.service)) {
    return Fail("--service '" + w.service + "': lowercase letters, digits and '-'");
  }
  if (!ValidWorkloadName(w.ns)) return Fail("--namespace '" + w.ns + "': not a namespace name");
  for (const auto& text : cli.ports) {
    auto port = ParsePort(text, &error);
    if (!port) return Fail(error);
    w.ports.push_back(*port);
  }
  if (!CheckPorts(w.ports, &error)) return Fail(error);
  for (const auto& text : cli.labels) {
    auto label = ParseLabel(text, &error);
    if (!label) return Fail(error);
    w.labels[label->first] = label->second;
  }
  for (const auto& text : cli.upstreams) {
    auto upstream = ParseUpstream(text, &error);
    if (!upstream) return Fail(error);
    w.upstreams.push_back(*upstream);
  }
  if (w.capture && !w.upstreams.empty()) {
    return Fail("--upstream is for --no-capture: a captured workload calls services by name");
  }
  if (w.command.empty()) return Fail("no COMMAND: add-to-mesh NAME ... -- COMMAND [ARGS...]");
  if (w.capture && geteuid() != 0) {
    return Fail(
        "add-to-mesh needs root to create the workload's network namespace, veth and iptables "
        "rules (run it with sudo), or use --no-capture to run the workload on the host without "
        "traffic capture (with --upstream SVC:PORT=127.0.0.1:LOCALPORT for its outbound calls)");
  }
  if (!w.capture) {
    for (const auto& p : w.ports) {
      if (!CanBind("127.0.0.1", p.AppPort())) {
        return Fail("--port " + std::to_string(p.AppPort()) +
                    ": 127.0.0.1:" + std::to_string(p.AppPort()) +
                    " is already in use on this host (a no-capture workload listens there)");
      }
    }
    for (const auto& u : w.upstreams) {
      size_t colon = u.local_address.rfind(':');
      if (!CanBind(u.local_address.substr(0, colon),
                   std::stoi(u.local_address.substr(colon + 1)))) {
        return Fail("--upstream " + u.service + ":" + std::to_string(u.port) + "=" +
                    u.local_address + ": " + u.local_address + " is already in use");
      }
    }
  }
  if (w.capture && NetnsExists("weft-" + w.name)) {
    return Fail("network namespace weft-" + w.name +
                " already exists (left by an earlier run? `ip netns del weft-" + w.name + "`)");
  }
  auto control_plane = ControlPlane(w.revision, &error);
  if (!control_plane) return Fail(error);
  w.server = !server_flag.empty()                  ? server_flag
             : !control_plane->api_address.empty() ? control_plane->api_address
                                                   : "127.0.0.1:15080";
  const nlohmann::json& values = control_plane->values;
  w.bridge = Value(values, "network", "bridge", kDefaultBridge);
  w.subnet = Value(values, "network", "subnet", kDefaultSubnet);
  w.proxy_binary = ProxyBinary();
  if (w.proxy_binary.find('/') != std::string::npos
          ? access(w.proxy_binary.c_str(), X_OK) != 0
          : RunCommand({"sh", "-c", "command -v weft-proxy"}).status != 0) {
    return Fail("weft-proxy not found (" + w.proxy_binary +
                "): looked in $WEFT_PROXY, next to weftctl and in PATH");
  }
  InvokingUser(&w.app_uid, &w.app_gid);

  if (!ClaimName(w.name, &error)) return Fail(error);
  std::vector<std::string> warnings;
  Client client(w.server);
  // From here on, whatever fails is undone by TearDownWorkload.
  auto fail = [&](const std::string& message) {
    TearDownWorkload(w);
    return Fail(message);
  };
  if (!WriteWorkload(w, &error)) return fail(error);
  if (!EnsureService(client, w, &warnings, &error)) return fail(error);
  if (w.capture) {
    w.netns = "weft-" + w.name;
    w.veth = VethName(w.name);
    w.dns = DnsUpstream(Value(values, "dns", "upstream", ""));
    if (!WriteWorkload(w, &error)) return fail(error);
    if (!AllocatePodAddress(w, &error)) return fail(error);
    if (!WriteWorkload(w, &error)) return fail(error);
    if (!CreatePodNetwork(w, &error)) return fail(error);
    w.xds_address = w.gateway + ":" + XdsPort(*control_plane);
  } else {
    w.admin_port = 0;  // any free port: several sidecars share the host's loopback
    if (!AllocateLoopback(w, &error)) return fail(error);
    w.xds_address = "127.0.0.1:" + XdsPort(*control_plane);
  }
  if (!GiveIdentity(client, *control_plane, w, &warnings, &error)) return fail(error);
  w.status = "starting";
  if (!WriteWorkload(w, &error)) return fail(error);

  std::string failure = StartSupervisor(w.name);
  if (!failure.empty()) {
    while (!failure.empty() && failure.back() == '\n') failure.pop_back();
    return Fail(failure);  // the supervisor already removed everything
  }
  auto started = ReadWorkload(w.name, &error);
  PrintAdded(started ? *started : w, warnings);
  return 0;
}

int RemoveFromMesh(const std::string& name) {
  std::string error;
  auto w = ReadWorkload(name, &error);
  if (!w) {
    return Fail(error.empty() ? "no workload named " + name + " (weftctl workloads lists them)"
                              : error);
  }
  if (w->capture && geteuid() != 0)
    return Fail("remove-from-mesh of a captured workload needs root");
  if (Alive(w->supervisor_pid)) {
    kill(w->supervisor_pid, SIGTERM);
    // The application's grace (5 s), the sidecar's drain (5 s) and the cleanup.
    const auto deadline = Clock::now() + seconds(40);
    while (Alive(w->supervisor_pid) && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (Alive(w->supervisor_pid)) {
      return Fail("the supervisor of " + name + " (pid " + std::to_string(w->supervisor_pid) +
                  ") did not finish in 40 s; see " +
                  (WorkloadDir(name) / "supervisor.log").string());
    }
  }
  // Whatever the supervisor could not remove (or all of it, when it had died).
  if (std::filesystem::exists(WorkloadFile(name))) TearDownWorkload(*w);
  std::printf("workload %s removed\n", name.c_str());
  return 0;
}

int Exec(const std::string& name, const std::vector<std::string>& command) {
  std::string error;
  auto w = ReadWorkload(name, &error);
  if (!w) {
    return Fail(error.empty() ? "no workload named " + name + " (weftctl workloads lists them)"
                              : error);
  }
  if (command.empty()) return Fail("no command: weftctl exec NAME -- CMD [ARGS...]");
  std::vector<std::string> argv;
  if (w->capture) {
    if (geteuid() != 0) return Fail("exec in a captured workload's network namespace needs root");
    argv = {"ip", "netns", "exec", w->netns};
  } else {
    setenv("WEFT_WORKLOAD", w->name.c_str(), 1);
    setenv("WEFT_OUTBOUND_ADDRESS", w->outbound_ip.c_str(), 1);
  }
  argv.insert(argv.end(), command.begin(), command.end());
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::fflush(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "error: %s: %s\n", args[0], std::strerror(errno));
  return 127;
}

// The CERTIFICATE column: what the sidecar's admin /certs says it holds.
std::string WorkloadCertificate(const WorkloadRecord& w) {
  if (w.ca_address.empty()) return "no CA";
  if (w.capture && geteuid() != 0) return "? (root reads a captured sidecar's admin)";
  if (!Alive(w.proxy_pid)) return "-";
  const AdminAnswer certs = SidecarAdminGet(w, "/certs");
  if (certs.status != 200) return "? (admin /certs: no answer)";
  return CertificateSummary(nlohmann::json::parse(certs.body, nullptr, false));
}

int ListWorkloads() {
  Table table(
      {"NAME", "NAMESPACE", "IP", "SERVICE", "REVISION", "CAPTURE", "STATUS", "CERTIFICATE"});
  for (const auto& name : ListWorkloadNames()) {
    std::string error;
    auto w = ReadWorkload(name, &error);
    if (!w) {
      table.AddRow({name, "", "", "", "", "", "unreadable: " + error, ""});
      continue;
    }
    std::string status = w->status;
    if (!Alive(w->supervisor_pid) && status != "creating") {
      status = "dead (weftctl remove-from-mesh " + name + " cleans up)";
    }
    table.AddRow({w->name, w->ns, w->ip.empty() ? "<none>" : w->ip, w->service,
                  Revision(w->revision), w->capture ? "REDIRECT" : "NONE", status,
                  WorkloadCertificate(*w)});
  }
  if (table.rows() == 0) {
    std::fprintf(stderr, "No workloads found.\n");
    return 0;
  }
  table.Print();
  return 0;
}

int RestartProxy(const std::string& name, const std::string& revision,
                 const std::string& server_flag) {
  std::string error;
  auto w = ReadWorkload(name, &error);
  if (!w) {
    return Fail(error.empty() ? "no workload named " + name + " (weftctl workloads lists them)"
                              : error);
  }
  if (!Alive(w->supervisor_pid)) {
    return Fail("the supervisor of " + name + " is not running (weftctl remove-from-mesh " + name +
                " cleans up)");
  }
  if (!revision.empty() || !server_flag.empty()) {
    auto control_plane = ControlPlane(revision.empty() ? w->revision : revision, &error);
    if (!control_plane) return Fail(error);
    if (!revision.empty()) w->revision = revision;
    w->server = !server_flag.empty() ? server_flag : control_plane->api_address;
    w->xds_address =
        (w->capture ? w->gateway : std::string("127.0.0.1")) + ":" + XdsPort(*control_plane);
    // The new control plane may hold its own store: make sure it knows the service too.
    Client client(w->server);
    std::vector<std::string> warnings;
    if (!EnsureService(client, *w, &warnings, &error)) return Fail(error);
    // Its own CA too (each revision's weftd has its own root and token key): a new token and root.
    if (!GiveIdentity(client, *control_plane, *w, &warnings, &error)) return Fail(error);
    for (const auto& warning : warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());
  }
  const pid_t old_proxy = w->proxy_pid;
  {
    const auto request = WorkloadDir(name) / kRestartRequestFile;
    std::ofstream out(request, std::ios::trunc);
    out << nlohmann::json{{"revision", w->revision},        {"server", w->server},
                          {"xdsAddress", w->xds_address},   {"caAddress", w->ca_address},
                          {"trustDomain", w->trust_domain}, {"ports", PortsToJson(w->ports)}}
               .dump()
        << "\n";
    if (!out.flush()) return Fail(request.string() + ": write failed");
  }
  kill(w->supervisor_pid, SIGHUP);
  const auto deadline = Clock::now() + seconds(90);
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    auto now = ReadWorkload(name, &error);
    if (!now) return Fail("workload " + name + " went away during the restart");
    if (now->status.rfind("failed", 0) == 0) return Fail(now->status);
    if (now->status == "running" && now->proxy_pid != old_proxy && now->proxy_pid > 0) {
      std::printf("sidecar of %s replaced: pid %d, revision %s, xDS %s\n", name.c_str(),
                  now->proxy_pid, Revision(now->revision).c_str(), now->xds_address.c_str());
      return 0;
    }
  }
  return Fail("the sidecar of " + name + " was not replaced within 90 s; see " +
              (WorkloadDir(name) / "supervisor.log").string());
}

}  // namespace

void SplitCommand(int* argc, char** argv, WorkloadCommandLine* cli) {
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--") != 0) continue;
    cli->command.assign(argv + i + 1, argv + *argc);
    *argc = i;
    return;
  }
}

void RegisterWorkloadCommands(CLI::App& app, WorkloadCommandLine* cli) {
  cli->add = app.add_subcommand("add-to-mesh",
                                "NAME ... -- COMMAND [ARGS...]: run COMMAND as a mesh workload: "
                                "its own network namespace with traffic "
                                "capture and a sidecar (or --no-capture: on the host)");
  cli->add->add_option("NAME", cli->name, "the workload's name")->required();
  cli->add->add_option("--service", cli->service, "the service it serves (a ServiceEntry)")
      ->required();
  cli->add
      ->add_option("--port", cli->ports,
                   "a service port: PORT[:APPPORT][/http|/tcp|/grpc|/http2] (APPPORT: where the "
                   "application listens, when not PORT)")
      ->required()
      ->take_first();
  cli->add->add_option("--service-account", cli->service_account, "default: \"default\"");
  cli->add->add_option("--label", cli->labels, "a label k=v (repeatable)")->take_first();
  cli->add->add_option("--revision", cli->revision, "the control plane revision to connect to");
  cli->add->add_flag("--no-capture", cli->no_capture,
                     "no network namespace nor iptables: run on the host (no root needed)");
  cli->add
      ->add_option("--upstream", cli->upstreams,
                   "--no-capture's outbound port SVC:PORT=127.0.0.1:LOCALPORT (repeatable)")
      ->take_first();

  cli->remove = app.add_subcommand("remove-from-mesh",
                                   "stop a workload and remove everything add-to-mesh made");
  cli->remove->add_option("NAME", cli->name, "the workload")->required();

  cli->exec = app.add_subcommand(
      "exec", "NAME -- CMD [ARGS...]: run a command in a workload's network namespace");
  cli->exec->add_option("NAME", cli->name, "the workload")->required();

  cli->list = app.add_subcommand("workloads", "list the workloads added to the mesh");

  cli->restart_proxy = app.add_subcommand(
      "restart-proxy", "replace a workload's sidecar (e.g. to move it to another revision)");
  cli->restart_proxy->add_option("NAME", cli->name, "the workload")->required();
  cli->restart_proxy->add_option("--revision", cli->revision, "connect to this revision");

  cli->supervise = app.add_subcommand("__supervise", "");
  cli->supervise->group("");  // hidden from --help
  cli->supervise->add_option("NAME", cli->name)->required();
  cli->supervise->add_option("--report-fd", cli->report_fd)->required();
}

std::optional<int> RunWorkloadCommand(const WorkloadCommandLine& cli, const std::string& server,
                                      const std::string& ns, const std::string& revision) {
  if (cli.add && *cli.add) return AddToMesh(cli, server, ns, revision);
  if (cli.remove && *cli.remove) return RemoveFromMesh(cli.name);
  if (cli.exec && *cli.exec) return Exec(cli.name, cli.command);
  if (cli.list && *cli.list) return ListWorkloads();
  if (cli.supervise && *cli.supervise) return RunSupervisor(cli.name, cli.report_fd);
  if (cli.restart_proxy && *cli.restart_proxy) {
    return RestartProxy(cli.name, cli.revision.empty() ? revision : cli.revision, server);
  }
  return std::nullopt;
}

}  // namespace weft::ctl
