#include "ctl/workload.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>

#include "ctl/weft_home.h"

namespace weft::ctl {
namespace {

nlohmann::json UpstreamsJson(const std::vector<Upstream>& upstreams) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& u : upstreams) {
    out.push_back({{"service", u.service}, {"port", u.port}, {"localAddress", u.local_address}});
  }
  return out;
}

bool ParseInt(const std::string& text, int min, int max, int* out) {
  if (text.empty() || text.size() > 6 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *out = std::stoi(text);
  return *out >= min && *out <= max;
}

}  // namespace

nlohmann::json PortsToJson(const std::vector<WorkloadPort>& ports) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : ports) {
    out.push_back({{"number", p.number},
                   {"protocol", p.protocol},
                   {"name", p.name},
                   {"targetPort", p.target}});
  }
  return out;
}

std::vector<WorkloadPort> PortsFromJson(const nlohmann::json& j) {
  std::vector<WorkloadPort> ports;
  for (const auto& p : j) {
    if (!p.is_object()) continue;
    ports.push_back({p.value("number", 0), p.value("protocol", "HTTP"), p.value("name", ""),
                     p.value("targetPort", 0)});
  }
  return ports;
}

nlohmann::json ToJson(const WorkloadRecord& w) {
  return {{"name", w.name},
          {"namespace", w.ns},
          {"service", w.service},
          {"serviceAccount", w.service_account},
          {"revision", w.revision},
          {"ports", PortsToJson(w.ports)},
          {"labels", w.labels},
          {"capture", w.capture},
          {"upstreams", UpstreamsJson(w.upstreams)},
          {"command", w.command},
          {"appUid", w.app_uid},
          {"appGid", w.app_gid},
          {"netns", w.netns},
          {"veth", w.veth},
          {"ip", w.ip},
          {"outboundIp", w.outbound_ip},
          {"bridge", w.bridge},
          {"subnet", w.subnet},
          {"gateway", w.gateway},
          {"dns", w.dns},
          {"server", w.server},
          {"xdsAddress", w.xds_address},
          {"caAddress", w.ca_address},
          {"trustDomain", w.trust_domain},
          {"proxyBinary", w.proxy_binary},
          {"createdService", w.created_service},
          {"adminPort", w.admin_port},
          {"pids", {{"supervisor", w.supervisor_pid}, {"proxy", w.proxy_pid}, {"app", w.app_pid}}},
          {"status", w.status}};
}

std::optional<WorkloadRecord> WorkloadFromJson(const nlohmann::json& j, std::string* error) {
  // workload.json is only written by weftctl: a wrong type is a corrupt file, reported whole.
  try {
    WorkloadRecord w;
    w.name = j.at("name").get<std::string>();
    w.ns = j.value("namespace", "default");
    w.service = j.value("service", "");
    w.service_account = j.value("serviceAccount", "default");
    w.revision = j.value("revision", kDefaultRevision);
    w.ports = PortsFromJson(j.value("ports", nlohmann::json::array()));
    w.labels = j.value("labels", std::map<std::string, std::string>{});
    w.capture = j.value("capture", true);
    for (const auto& u : j.value("upstreams", nlohmann::json::array())) {
      w.upstreams.push_back({u.at("service").get<std::string>(), u.at("port").get<int>(),
                             u.at("localAddress").get<std::string>()});
    }
    w.command = j.value("command", std::vector<std::string>{});
    w.app_uid = j.value("appUid", 0U);
    w.app_gid = j.value("appGid", 0U);
    w.netns = j.value("netns", "");
    w.veth = j.value("veth", "");
    w.ip = j.value("ip", "");
    w.outbound_ip = j.value("outboundIp", "");
    w.bridge = j.value("bridge", "");
    w.subnet = j.value("subnet", "");
    w.gateway = j.value("gateway", "");
    w.dns = j.value("dns", "");
    w.server = j.value("server", "");
    w.xds_address = j.value("xdsAddress", "");
    w.ca_address = j.value("caAddress", "");
    w.trust_domain = j.value("trustDomain", "cluster.local");
    w.proxy_binary = j.value("proxyBinary", "");
    w.created_service = j.value("createdService", false);
    w.admin_port = j.value("adminPort", kAdminPort);
    if (j.contains("pids")) {
      const auto& pids = j["pids"];
      w.supervisor_pid = pids.value("supervisor", 0);
      w.proxy_pid = pids.value("proxy", 0);
      w.app_pid = pids.value("app", 0);
    }
    w.status = j.value("status", "");
    return w;
  } catch (const nlohmann::json::exception& e) {
    *error = e.what();
    return std::nullopt;
  }
}

std::filesystem::path WorkloadFile(const std::string& name) {
  return WorkloadDir(name) / "workload.json";
}

std::optional<WorkloadRecord> ReadWorkload(const std::string& name, std::string* error) {
  error->clear();
  std::ifstream in(WorkloadFile(name));
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = WorkloadFile(name).string() + ": not valid JSON";
    return std::nullopt;
  }
  auto w = WorkloadFromJson(j, error);
  if (!w) *error = WorkloadFile(name).string() + ": " + *error;
  return w;
}

bool WriteWorkload(const WorkloadRecord& w, std::string* error) {
  const std::filesystem::path dir = WorkloadDir(w.name);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Each writer (add-to-mesh, the supervisor, restart-proxy) has its own temporary file, so two
  // writers never rename each other's half-written file.
  const std::filesystem::path tmp = dir / ("workload.json." + std::to_string(getpid()));
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ToJson(w).dump(2) << "\n";
    if (!out.flush()) {
      *error = tmp.string() + ": write failed";
      return false;
    }
  }
  std::filesystem::rename(tmp, dir / "workload.json", ec);
  if (ec) {
    *error = (dir / "workload.json").string() + ": " + ec.message();
    return false;
  }
  return true;
}

std::vector<std::string> ListWorkloadNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(WeftHome() / "workloads", ec)) {
    if (std::filesystem::exists(entry.path() / "workload.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<WorkloadPort> ParsePort(const std::string& text, std::string* error) {
  WorkloadPort port;
  std::string number = text, protocol = "http";
  if (size_t slash = text.find('/'); slash != std::string::npos) {
    number = text.substr(0, slash);
    protocol = text.substr(slash + 1);
    std::transform(protocol.begin(), protocol.end(), protocol.begin(), ::tolower);
  }
  std::optional<std::string> target;
  if (size_t colon = number.find(':'); colon != std::string::npos) {
    target = number.substr(colon + 1);
    number = number.substr(0, colon);
  }
  if (!ParseInt(number, 1, 65535, &port.number) ||
      (target && !ParseInt(*target, 1, 65535, &port.target))) {
    *error = "--port " + text +
             ": not a port number (PORT or PORT:APPPORT, 1-65535, optionally /http, /tcp or "
             "/grpc)";
    return std::nullopt;
  }
  // The ServiceEntry port's protocol (Istio's protocol names) and Istio's name prefix for it.
  static const std::map<std::string, std::string> kProtocols = {
      {"http", "HTTP"}, {"tcp", "TCP"}, {"grpc", "GRPC"}, {"http2", "HTTP2"}};
  auto it = kProtocols.find(protocol);
  if (it == kProtocols.end()) {
    *error = "--port " + text + ": unknown protocol '" + protocol + "' (http, http2, grpc, tcp)";
    return std::nullopt;
  }
  port.protocol = it->second;
  port.name = protocol + "-" + number;
  return port;
}

std::optional<std::pair<std::string, std::string>> ParseLabel(const std::string& text,
                                                              std::string* error) {
  // Kubernetes: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters
  // (alphanumerics, '-', '_', '.', alphanumeric at both ends); values the same or empty.
  static const std::regex kKey(
      R"(^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$)");
  static const std::regex kValue(R"(^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$)");
  size_t eq = text.find('=');
  if (eq == std::string::npos) {
    *error = "--label " + text + ": expected KEY=VALUE";
    return std::nullopt;
  }
  std::string key = text.substr(0, eq), value = text.substr(eq + 1);
  if (!std::regex_match(key, kKey)) {
    *error = "--label " + text + ": '" + key + "' is not a valid label key";
    return std::nullopt;
  }
  if (!std::regex_match(value, kValue)) {
    *error = "--label " + text + ": '" + value + "' is not a valid label value";
    return std::nullopt;
  }
  return std::make_pair(key, value);
}

std::optional<Upstream> ParseUpstream(const std::string& text, std::string* error) {
  // SERVICE:PORT=IP:PORT; the left-hand side is resolved by weftd like a VirtualService host.
  static const std::regex kForm(
      R"(^([a-z0-9]([-a-z0-9.]*[a-z0-9])?):([0-9]{1,5})=(127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}):([0-9]{1,5})$)");
  std::smatch m;
  Upstream u;
  int local_port = 0;
  if (!std::regex_match(text, m, kForm) || !ParseInt(m[3], 1, 65535, &u.port) ||
      !ParseInt(m[5], 1, 65535, &local_port)) {
    *error = "--upstream " + text +
             ": expected SERVICE:PORT=127.0.0.1:LOCALPORT (e.g. reviews:9080=127.0.0.1:19080)";
    return std::nullopt;
  }
  u.service = m[1];
  u.local_address = std::string(m[4]) + ":" + std::to_string(local_port);
  return u;
}

bool ValidWorkloadName(const std::string& name) {
  static const std::regex kName(R"(^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$)");
  return std::regex_match(name, kName);
}

bool CheckPorts(const std::vector<WorkloadPort>& ports, std::string* error) {
  std::set<int> services, apps;
  for (const auto& p : ports) {
    for (int port : {p.number, p.AppPort()}) {
      if (std::find(std::begin(kReservedSidecarPorts), std::end(kReservedSidecarPorts), port) !=
          std::end(kReservedSidecarPorts)) {
        *error = "--port " + std::to_string(port) +
                 ": reserved for the sidecar (15000 admin, 15001 outbound, 15006 inbound, 15021 "
                 "health, 15053 DNS, 15090 metrics)";
        return false;
      }
    }
    if (!services.insert(p.number).second) {
      *error = "--port " + std::to_string(p.number) + ": given twice";
      return false;
    }
    if (!apps.insert(p.AppPort()).second) {
      *error = "--port ..:" + std::to_string(p.AppPort()) + ": application port given twice";
      return false;
    }
  }
  return true;
}

std::string VethName(const std::string& workload) {
  uint32_t hash = 2166136261U;  // FNV-1a, 32 bits: stable across builds, unlike std::hash
  for (unsigned char c : workload) {
    hash ^= c;
    hash *= 16777619U;
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "wv%08x", hash);
  return buf;
}

bool Alive(pid_t pid) {
  if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM)) return false;
  // A zombie (exited, not yet reaped by whoever adopted it) is not alive: /proc/<pid>/stat's
  // third field is its state, Z for a zombie.
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

}  // namespace weft::ctl
