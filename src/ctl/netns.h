// A captured workload's network plumbing, made with iproute2 and iptables (whatever `iptables`
// is on the host: legacy or nft): the mesh bridge, the workload's network namespace "weft-NAME"
// with a veth pair into the bridge, its address and default route, Istio's capture rules and a
// Kubernetes pod's resolv.conf. Everything here is undone by DeletePodNetwork and
// DeleteBridgeIfUnused.
#pragma once

#include <string>

#include "ctl/ipam.h"
#include "ctl/workload.h"

namespace weft::ctl {

inline constexpr const char* kRuleComment = "weft";

// Creates the bridge with the subnet's first address when it does not exist (recorded in `ipam`
// as weftctl's), brings it up, and accepts bridge-to-bridge forwarding: with br_netfilter loaded,
// bridged frames traverse iptables' FORWARD chain, whose policy Docker sets to DROP.
bool EnsureBridge(const std::string& bridge, const Cidr& subnet, Ipam& ipam, std::string* error);
// Removes the bridge and its FORWARD rule when weftctl created it and no address of `subnet` is
// allocated any more.
void DeleteBridgeIfUnused(const std::string& bridge, const Cidr& subnet, Ipam& ipam);

// The netns, veth, address, routes, capture rules and /etc/netns/<netns>/resolv.conf of `w`
// (w.netns, w.veth, w.ip, w.bridge, w.subnet, w.gateway, w.dns set).
bool CreatePodNetwork(const WorkloadRecord& w, std::string* error);
// Best effort, each step independent: whatever exists of the above is removed.
void DeletePodNetwork(const WorkloadRecord& w);

// The nat-table rules (iptables-restore input) Istio's istio-iptables writes for REDIRECT mode
// (tools/istio-iptables/pkg/capture/run.go): inbound TCP to 15006 except the sidecar's own ports
// and 22; outbound TCP to 15001 except the proxy's uid/gid 1337, loopback and 127.0.0.1; DNS
// (UDP 53) to 15053 except the proxy's.
std::string CaptureRules();

// resolv.conf of a pod in namespace `ns` (Kubernetes' ClusterFirst policy: ndots 5 and the
// namespace's search path).
std::string PodResolvConf(const std::string& nameserver, const std::string& ns);
// The pod's /etc/hosts (bind-mounted by `ip netns exec` from /etc/netns/<netns>/hosts), as
// kubelet writes a pod's: loopback, the pod's own name, and weftd's CA name (kCaHostName of
// workload_identity.h) on the gateway, where the sidecar reaches weftd's TLS port.
std::string PodHostsFile(const std::string& pod_ip, const std::string& pod_name,
                         const std::string& gateway);
// dns.upstream when set, else the first non-loopback nameserver of the host's resolv.conf (or of
// systemd-resolved's upstream list), "" when there is none.
std::string DnsUpstream(const std::string& configured);

// Whether a network interface of that name exists in the host's namespace.
bool LinkExists(const std::string& name);
bool NetnsExists(const std::string& name);

}  // namespace weft::ctl
