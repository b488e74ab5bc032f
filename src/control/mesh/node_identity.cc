#include "control/mesh/node_identity.h"

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "control/model/formats.h"

namespace weft::control::mesh {
namespace {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Istio's node id: four '~'-separated parts, type ("sidecar", "router"), IP, "<pod>.<namespace>",
// DNS domain "<namespace>.svc.cluster.local" (istio pilot/pkg/model/context.go,
// ParseServiceNodeWithMetadata).
void FromNodeId(const std::string& id, NodeIdentity& identity) {
  const std::vector<std::string> parts = Split(id, '~');
  if (parts.size() != 4) return;
  identity.ip = parts[1];
  if (const size_t dot = parts[2].find('.');
      dot != std::string::npos && dot + 1 < parts[2].size()) {
    identity.namespace_ = parts[2].substr(dot + 1);
  } else if (const size_t d = parts[3].find('.'); d != std::string::npos && d > 0) {
    identity.namespace_ = parts[3].substr(0, d);
  }
}

absl::Status NotA(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(absl::string_view(path.data(), path.size()),
                                                 ": not ",
                                                 absl::string_view(what.data(), what.size())));
}

// A string-valued key, or "" when absent.
absl::StatusOr<std::string> OptionalString(const nlohmann::json& metadata, const char* key) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) return std::string();
  if (!it->is_string()) return NotA(absl::StrCat("metadata.", key), "a string");
  return it->get<std::string>();
}

// POD_PORTS: Istio's PodPortList unmarshals from a JSON *string* holding the array (pilot-agent
// sends it that way, istio pkg/model/proxy.go); a plain array is accepted for hand-written
// bootstraps.
absl::StatusOr<std::vector<PodPort>> ParsePodPorts(const nlohmann::json& value) {
  nlohmann::json list = value;
  if (value.is_string()) {
    list = nlohmann::json::parse(value.get<std::string>(), nullptr, false);
    if (list.is_discarded()) return NotA("metadata.POD_PORTS", "valid JSON");
  }
  if (!list.is_array()) return NotA("metadata.POD_PORTS", "a JSON array");
  std::vector<PodPort> ports;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = absl::StrCat("metadata.POD_PORTS[", i, "]");
    const nlohmann::json& entry = list[i];
    if (!entry.is_object()) return NotA(path, "an object");
    PodPort port;
    if (auto it = entry.find("name"); it != entry.end()) {
      if (!it->is_string()) return NotA(path + ".name", "a string");
      port.name = it->get<std::string>();
    }
    const auto number = entry.find("containerPort");
    if (number == entry.end()) return NotA(path + ".containerPort", "set");
    if (!number->is_number_integer()) return NotA(path + ".containerPort", "a number");
    const int64_t n = number->get<int64_t>();
    if (n < 1 || n > 65535) return NotA(path + ".containerPort", "a port (1-65535)");
    port.container_port = static_cast<uint32_t>(n);
    if (auto it = entry.find("protocol"); it != entry.end()) {
      if (!it->is_string()) return NotA(path + ".protocol", "a string");
      port.protocol = it->get<std::string>();
    }
    ports.push_back(std::move(port));
  }
  return ports;
}

// "host:port" with a port in 1-65535; `what` names the side for the error.
absl::Status SplitHostPort(std::string_view text, const std::string& path, std::string_view what,
                           std::string& host, uint32_t& port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return NotA(path, absl::StrCat(absl::string_view(what.data(), what.size()), " host:port"));
  }
  const std::string_view digits = text.substr(colon + 1);
  uint32_t n = 0;
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos ||
      (n = static_cast<uint32_t>(std::stoul(std::string(digits)))) < 1 || n > 65535) {
    return NotA(path, absl::StrCat(absl::string_view(what.data(), what.size()), " port (1-65535)"));
  }
  host = std::string(text.substr(0, colon));
  port = n;
  return absl::OkStatus();
}

// WEFT_UPSTREAMS: "reviews:9080=127.0.0.1:19080,ratings:9080=127.0.0.1:19081" (the contract's
// section 2): the left side a service host and port, the right side the IP and port to bind.
absl::StatusOr<std::vector<translate::UpstreamBinding>> ParseUpstreams(
    const nlohmann::json& value) {
  if (!value.is_string()) return NotA("metadata.WEFT_UPSTREAMS", "a string");
  std::vector<translate::UpstreamBinding> out;
  const std::string text = value.get<std::string>();
  if (text.empty()) return out;
  const std::vector<std::string> entries = Split(text, ',');
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string path = absl::StrCat("metadata.WEFT_UPSTREAMS[", i, "]");
    const std::string& entry = entries[i];
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) {
      return NotA(path, "of the form service:port=ip:port");
    }
    translate::UpstreamBinding b;
    RETURN_IF_ERROR(
        SplitHostPort(std::string_view(entry).substr(0, eq), path, "a service", b.host, b.port));
    RETURN_IF_ERROR(SplitHostPort(std::string_view(entry).substr(eq + 1), path, "a bind",
                                  b.bind_address, b.bind_port));
    if (!IsIp(b.bind_address)) return NotA(path, "bound on an IP address (ip:port)");
    for (const translate::UpstreamBinding& other : out) {
      if (other.bind_address == b.bind_address && other.bind_port == b.bind_port) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", b.bind_address, ":", b.bind_port, " is bound twice"));
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

absl::StatusOr<NodeIdentity> ParseNodeIdentity(const std::string& node_id,
                                               const std::string& metadata_json,
                                               const std::string& locality) {
  NodeIdentity identity;
  identity.node_id = node_id;
  identity.locality = locality;
  FromNodeId(node_id, identity);
  if (metadata_json.empty()) return identity;
  const nlohmann::json metadata = nlohmann::json::parse(metadata_json, nullptr, false);
  if (!metadata.is_object()) return absl::InvalidArgumentError("metadata: not a JSON object");
  if (auto it = metadata.find("NAMESPACE"); it != metadata.end()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return absl::InvalidArgumentError("metadata.NAMESPACE: not a non-empty string");
    }
    identity.namespace_ = it->get<std::string>();
  }
  if (auto it = metadata.find("LABELS"); it != metadata.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("metadata.LABELS: not an object");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError("metadata.LABELS." + key + ": not a string");
      }
      identity.labels[key] = value.get<std::string>();
    }
  }
  if (auto it = metadata.find("GENERATOR"); it != metadata.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata.GENERATOR: not a string");
    identity.proxyless_grpc = it->get<std::string>() == "grpc";
  }
  if (auto it = metadata.find("INSTANCE_IPS"); it != metadata.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("metadata.INSTANCE_IPS: not a string");
    const std::string first = Split(it->get<std::string>(), ',').front();
    if (!first.empty()) identity.ip = first;
  }
  ASSIGN_OR_RETURN(identity.name, OptionalString(metadata, "NAME"));
  ASSIGN_OR_RETURN(identity.service_account, OptionalString(metadata, "SERVICE_ACCOUNT"));
  ASSIGN_OR_RETURN(const std::string mtls, OptionalString(metadata, "WEFT_MTLS"));
  identity.mtls = mtls == "true";
  ASSIGN_OR_RETURN(identity.auto_register_group, OptionalString(metadata, "AUTO_REGISTER_GROUP"));
  ASSIGN_OR_RETURN(identity.network, OptionalString(metadata, "NETWORK"));
  if (auto it = metadata.find("POD_PORTS"); it != metadata.end()) {
    ASSIGN_OR_RETURN(identity.pod_ports, ParsePodPorts(*it));
  }
  ASSIGN_OR_RETURN(identity.outbound_address, OptionalString(metadata, "WEFT_OUTBOUND_ADDRESS"));
  if (!identity.outbound_address.empty() && !IsIp(identity.outbound_address)) {
    return NotA("metadata.WEFT_OUTBOUND_ADDRESS", "an IP address");
  }
  // Istio's values (istio pkg/model/proxy.go, TrafficInterceptionMode): REDIRECT, TPROXY, NONE.
  ASSIGN_OR_RETURN(const std::string mode, OptionalString(metadata, "INTERCEPTION_MODE"));
  if (mode == "REDIRECT") {
    identity.capture = true;
  } else if (!mode.empty() && mode != "NONE") {
    return NotA("metadata.INTERCEPTION_MODE", "REDIRECT or NONE (TPROXY is not supported)");
  }
  if (auto it = metadata.find("WEFT_UPSTREAMS"); it != metadata.end()) {
    ASSIGN_OR_RETURN(identity.upstreams, ParseUpstreams(*it));
  }
  return identity;
}

}  // namespace weft::control::mesh
