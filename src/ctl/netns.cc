#include "ctl/netns.h"

#include <net/if.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "ctl/process.h"
#include "ctl/workload_identity.h"

namespace weft::ctl {
namespace {

using Argv = std::vector<std::string>;

bool Run(const Argv& argv, std::string* error) {
  CommandResult r = RunCommand(argv);
  if (r.status == 0) return true;
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  *error = CommandLine(argv) + ": " + (out.empty() ? "exit " + std::to_string(r.status) : out);
  return false;
}

void RunQuietly(const Argv& argv) { RunCommand(argv); }

Argv InNetns(const std::string& netns, Argv argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", netns});
  return argv;
}

// The host's rules for a bridge, each marked `-m comment --comment weft`, as Docker sets up
// docker0 (so they coexist with Docker's FORWARD policy DROP and its br_netfilter):
//   pod to pod over the bridge; pods to the outside; replies back in; and the pods' source
//   address masqueraded on the way out (the sidecar's passthrough and DNS forwarding to the
//   host's nameservers leave the host from a private subnet).
std::vector<Argv> BridgeRules(const std::string& op, const std::string& bridge,
                              const std::string& subnet) {
  const Argv mark = {"-m", "comment", "--comment", kRuleComment};
  auto rule = [&](Argv head, const Argv& tail) {
    head.insert(head.begin() + 1, op);  // after "iptables" or after "-t nat" below
    head.insert(head.end(), tail.begin(), tail.end());
    head.insert(head.end() - 2, mark.begin(), mark.end());
    return head;
  };
  return {
      rule({"iptables", "FORWARD", "-i", bridge, "-o", bridge}, {"-j", "ACCEPT"}),
      rule({"iptables", "FORWARD", "-i", bridge, "!", "-o", bridge}, {"-j", "ACCEPT"}),
      rule({"iptables", "FORWARD", "-o", bridge, "-m", "conntrack", "--ctstate",
            "RELATED,ESTABLISHED"},
           {"-j", "ACCEPT"}),
      rule({"iptables", "POSTROUTING", "-t", "nat", "-s", subnet, "!", "-o", bridge},
           {"-j", "MASQUERADE"}),
  };
}

constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

std::filesystem::path EtcNetnsDir(const std::string& netns) {
  return std::filesystem::path("/etc/netns") / netns;
}

std::string FirstNameserver(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (address.rfind("127.", 0) == 0 || address == "::1") continue;  // unreachable from a pod
    return address;
  }
  return "";
}

}  // namespace

bool LinkExists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

bool NetnsExists(const std::string& name) {
  return std::filesystem::exists(std::filesystem::path("/run/netns") / name);
}

bool EnsureBridge(const std::string& bridge, const Cidr& subnet, Ipam& ipam, std::string* error) {
  const std::string gateway = FormatIpv4(subnet.Host(1)) + "/" + std::to_string(subnet.prefix);
  if (!LinkExists(bridge)) {
    if (!Run({"ip", "link", "add", bridge, "type", "bridge"}, error)) return false;
    ipam.SetBridgeCreatedByWeft(bridge, true);
    if (!Run({"ip", "addr", "add", gateway, "dev", bridge}, error)) return false;
  } else {
    // An existing bridge (weftctl's from an earlier workload, or the user's): make sure it has
    // the gateway address.
    CommandResult shown = RunCommand({"ip", "-o", "-4", "addr", "show", "dev", bridge});
    if (shown.output.find("inet " + gateway + " ") == std::string::npos &&
        !Run({"ip", "addr", "add", gateway, "dev", bridge}, error)) {
      return false;
    }
  }
  if (!Run({"ip", "link", "set", bridge, "up"}, error)) return false;
  const std::string cidr = FormatIpv4(subnet.network) + "/" + std::to_string(subnet.prefix);
  const auto checks = BridgeRules("-C", bridge, cidr);
  const auto inserts = BridgeRules("-I", bridge, cidr);
  for (size_t i = 0; i < checks.size(); ++i) {
    if (RunCommand(checks[i]).status != 0 && !Run(inserts[i], error)) return false;
  }
  // Forwarding for the pods' way out. Turned back off with the last weftctl bridge when weftctl
  // turned it on, so the host is left as it was found.
  std::string forwarding;
  std::ifstream(kIpForward) >> forwarding;
  if (forwarding == "0") {
    std::ofstream(kIpForward) << "1\n";
    ipam.SetFlag("ipForwardEnabledByWeft", true);
  }
  return true;
}

void DeleteBridgeIfUnused(const std::string& bridge, const Cidr& subnet, Ipam& ipam) {
  if (ipam.CountIn(subnet) > 0) return;
  // Our rules go with the last address of the subnet (-D removes one copy; loop in case two
  // racing add-to-mesh inserted two); the bridge only when weftctl made it.
  const std::string cidr = FormatIpv4(subnet.network) + "/" + std::to_string(subnet.prefix);
  for (const auto& rule : BridgeRules("-D", bridge, cidr)) {
    for (int i = 0; i < 8 && RunCommand(rule).status == 0; ++i) {
    }
  }
  if (ipam.BridgeCreatedByWeft(bridge)) {
    RunQuietly({"ip", "link", "del", bridge});
    ipam.SetBridgeCreatedByWeft(bridge, false);
  }
  if (ipam.Flag("ipForwardEnabledByWeft") && !ipam.AnyBridgeCreatedByWeft()) {
    std::ofstream(kIpForward) << "0\n";
    ipam.SetFlag("ipForwardEnabledByWeft", false);
  }
}

std::string CaptureRules() {
  const std::string uid = std::to_string(kProxyUid);
  std::ostringstream s;
  s << "*nat\n"
    << ":ISTIO_INBOUND - [0:0]\n:ISTIO_IN_REDIRECT - [0:0]\n"
    << ":ISTIO_OUTPUT - [0:0]\n:ISTIO_REDIRECT - [0:0]\n"
    // Inbound: every TCP connection to the sidecar's 15006 but the sidecar's own ports and ssh.
    << "-A PREROUTING -p tcp -j ISTIO_INBOUND\n"
    << "-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN\n";
  for (int port : kReservedSidecarPorts) {
    s << "-A ISTIO_INBOUND -p tcp --dport " << port << " -j RETURN\n";
  }
  s << "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT\n"
    << "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
    // Outbound: the application's TCP to the sidecar's 15001. Not the proxy's own connections
    // (uid and gid 1337), not the application talking to itself over lo, not 127.0.0.1.
    << "-A OUTPUT -p tcp -j ISTIO_OUTPUT\n"
    << "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner " << uid << " -j RETURN\n"
    << "-A ISTIO_OUTPUT -m owner --uid-owner " << uid << " -j RETURN\n"
    << "-A ISTIO_OUTPUT -m owner --gid-owner " << uid << " -j RETURN\n"
    << "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
    << "-A ISTIO_OUTPUT -j ISTIO_REDIRECT\n"
    << "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
    // DNS: the application's queries to the sidecar's 15053; the proxy's own go out.
    << "-A OUTPUT -p udp --dport 53 -m owner --uid-owner " << uid << " -j RETURN\n"
    << "-A OUTPUT -p udp --dport 53 -m owner --gid-owner " << uid << " -j RETURN\n"
    << "-A OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 15053\n"
    << "COMMIT\n";
  return s.str();
}

std::string PodResolvConf(const std::string& nameserver, const std::string& ns) {
  std::string out;
  if (!nameserver.empty()) out += "nameserver " + nameserver + "\n";
  out += "search " + ns + ".svc.cluster.local svc.cluster.local cluster.local\n";
  out += "options ndots:5\n";
  return out;
}

std::string PodHostsFile(const std::string& pod_ip, const std::string& pod_name,
                         const std::string& gateway) {
  std::string out =
      "# Written by weftctl add-to-mesh (a pod's hosts file, as kubelet writes one)\n";
  out += "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!pod_ip.empty()) out += pod_ip + "\t" + pod_name + "\n";
  if (!gateway.empty()) out += gateway + "\t" + kCaHostName + " istiod.istio-system istiod\n";
  return out;
}

std::string DnsUpstream(const std::string& configured) {
  if (!configured.empty()) return configured;
  std::string ns = FirstNameserver("/etc/resolv.conf");
  // systemd-resolved's stub (127.0.0.53) is the usual first line; its upstream list is here.
  if (ns.empty()) ns = FirstNameserver("/run/systemd/resolve/resolv.conf");
  return ns;
}

bool CreatePodNetwork(const WorkloadRecord& w, std::string* error) {
  auto subnet = ParseCidr(w.subnet);
  if (!subnet) {
    *error = "network.subnet " + w.subnet + ": not an IPv4 prefix";
    return false;
  }
  const std::string prefix = std::to_string(subnet->prefix);
  std::error_code ec;
  std::filesystem::create_directories(EtcNetnsDir(w.netns), ec);
  {
    std::ofstream out(EtcNetnsDir(w.netns) / "resolv.conf", std::ios::trunc);
    out << PodResolvConf(w.dns, w.ns);
    if (!out.flush()) {
      *error = (EtcNetnsDir(w.netns) / "resolv.conf").string() + ": write failed";
      return false;
    }
  }
  {
    std::ofstream out(EtcNetnsDir(w.netns) / "hosts", std::ios::trunc);
    out << PodHostsFile(w.ip, w.name, w.gateway);
    if (!out.flush()) {
      *error = (EtcNetnsDir(w.netns) / "hosts").string() + ": write failed";
      return false;
    }
  }
  const std::vector<Argv> steps = {
      {"ip", "netns", "add", w.netns},
      {"ip", "link", "add", w.veth, "type", "veth", "peer", "name", "eth0", "netns", w.netns},
      {"ip", "link", "set", w.veth, "master", w.bridge},
      {"ip", "link", "set", w.veth, "up"},
      InNetns(w.netns, {"ip", "link", "set", "lo", "up"}),
      InNetns(w.netns, {"ip", "addr", "add", w.ip + "/" + prefix, "dev", "eth0"}),
      InNetns(w.netns, {"ip", "link", "set", "eth0", "up"}),
      InNetns(w.netns, {"ip", "route", "add", "default", "via", w.gateway}),
  };
  for (const auto& step : steps) {
    if (!Run(step, error)) return false;
  }
  CommandResult r = RunCommand(InNetns(w.netns, {"iptables-restore", "--noflush"}), CaptureRules());
  if (r.status != 0) {
    *error = "iptables-restore in " + w.netns + ": " + r.output;
    return false;
  }
  return true;
}

void DeletePodNetwork(const WorkloadRecord& w) {
  // Deleting the namespace destroys eth0 and with it its host-side peer; the explicit delete is
  // for a half-made pod whose veth never moved.
  if (!w.netns.empty() && NetnsExists(w.netns)) RunQuietly({"ip", "netns", "del", w.netns});
  if (!w.veth.empty() && LinkExists(w.veth)) RunQuietly({"ip", "link", "del", w.veth});
  std::error_code ec;
  if (!w.netns.empty()) std::filesystem::remove_all(EtcNetnsDir(w.netns), ec);
}

}  // namespace weft::ctl
