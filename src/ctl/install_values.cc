#include "ctl/install_values.h"

#include <arpa/inet.h>

#include <fstream>
#include <sstream>

#include "base/yaml_json.h"
#include "control/model/formats.h"

namespace weft::ctl {
namespace {

using nlohmann::json;

// The default profile: every key there is, with its default (issue 5 contract section 5).
// meshConfig holds the MeshConfig fields weftd's --mesh-config reads (Istio's defaults:
// outboundTrafficPolicy ALLOW_ANY, rootNamespace istio-system, trustDomain cluster.local,
// holdApplicationUntilProxyStarts false in Istio; true here, since add-to-mesh starts the app
// only once its sidecar is ready).
json DefaultValues() {
  return {{"apiAddress", "127.0.0.1:15080"},
          {"xdsAddress", "0.0.0.0:15010"},
          {"xdsTlsAddress", ""},
          {"registrationGrace", "10s"},
          {"logLevel", "info"},
          {"meshConfig",
           {{"outboundTrafficPolicy", {{"mode", "ALLOW_ANY"}}},
            {"rootNamespace", "istio-system"},
            {"trustDomain", "cluster.local"},
            {"defaultConfig", {{"holdApplicationUntilProxyStarts", true}}}}},
          {"network", {{"bridge", "weft0"}, {"subnet", "10.250.0.0/16"}}},
          {"dns", {{"upstream", ""}}},
          // Istio's DEFAULT_WORKLOAD_CERT_TTL is 24h; "cacerts": Istio's plug-in CA directory
          // (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem), "" for weftd's own root.
          {"security", {{"workloadCertTTL", "24h"}, {"cacerts", ""}}}};
}

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string KnownKeys(const json& schema) {
  std::string out;
  for (const auto& [k, v] : schema.items()) out += (out.empty() ? "" : ", ") + k;
  return out;
}

const char* TypeName(const json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "true or false";
  if (v.is_object()) return "a mapping";
  return "a number";
}

bool MergeInto(json& values, const json& overrides, const json& schema, const std::string& prefix,
               const std::string& where, std::string* error) {
  for (const auto& [key, value] : overrides.items()) {
    const std::string path = Join(prefix, key);
    if (!schema.contains(key)) {
      *error = where + ": " + path + ": unknown key (known: " + KnownKeys(schema) + ")";
      return false;
    }
    const json& expected = schema[key];
    if (expected.is_object()) {
      if (!value.is_object()) {
        *error = where + ": " + path + ": must be a mapping";
        return false;
      }
      if (!MergeInto(values[key], value, expected, path, where, error)) return false;
      continue;
    }
    if (expected.type() != value.type()) {
      *error = where + ": " + path + ": must be " + TypeName(expected);
      return false;
    }
    values[key] = value;
  }
  return true;
}

void Diff(const json& a, const json& b, const std::string& prefix, std::vector<std::string>* out) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      Diff(v, b.contains(k) ? b[k] : json(), Join(prefix, k), out);
    }
    for (const auto& [k, v] : b.items()) {
      if (!a.contains(k)) out->push_back(Join(prefix, k));
    }
    return;
  }
  if (a != b) out->push_back(prefix);
}

bool ValidCidr(const std::string& cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  in_addr addr{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr) != 1) return false;
  const std::string bits = cidr.substr(slash + 1);
  if (bits.empty() || bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoi(bits) <= 30;  // room for the bridge address and at least one pod
}

}  // namespace

const std::vector<std::string>& ProfileNames() {
  static const std::vector<std::string> names = {"default", "minimal", "demo"};
  return names;
}

std::optional<json> ProfileValues(const std::string& profile) {
  json values = DefaultValues();
  if (profile == "default") return values;
  if (profile == "minimal") {
    // Nothing on the network but loopback: for --no-capture workloads on this host only (a
    // captured pod reaches weftd's xDS on the bridge address, which 127.0.0.1 does not serve).
    values["xdsAddress"] = "127.0.0.1:15010";
    values["logLevel"] = "warning";
    return values;
  }
  if (profile == "demo") {
    // For trying things out: a workload that went away stops being an endpoint sooner, and
    // weftd logs each connect and push.
    values["registrationGrace"] = "5s";
    values["logLevel"] = "debug";
    return values;
  }
  return std::nullopt;
}

json WithDefaults(const json& values) {
  json out = DefaultValues();
  // Keys a newer weftctl knows and an older install record lacks keep their defaults; the
  // recorded ones win. Unknown keys (an older record cannot have any) are dropped.
  std::string ignored;
  MergeInto(out, values.is_object() ? values : json::object(), DefaultValues(), "", "", &ignored);
  return out;
}

bool MergeValues(json* values, const json& overrides, const std::string& where,
                 std::string* error) {
  if (!overrides.is_object()) {
    *error = where + ": values must be a mapping";
    return false;
  }
  return MergeInto(*values, overrides, DefaultValues(), "", where, error);
}

bool MergeValuesFile(json* values, const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot be read";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto docs = weft::yaml::DocumentsToJson(text.str());
  if (!docs.ok()) {
    *error = path + ": " + std::string(docs.status().message());
    return false;
  }
  if (docs->empty()) return true;  // an empty file changes nothing
  if (docs->size() != 1) {
    *error = path + ": holds " + std::to_string(docs->size()) + " documents, expected one";
    return false;
  }
  return MergeValues(values, docs->front(), path, error);
}

bool ApplySet(json* values, const std::string& assignment, std::string* error) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    *error =
        "--set " + assignment + ": expected KEY=VALUE (e.g. meshConfig.trustDomain=example.org)";
    return false;
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json schema = DefaultValues();
  const json* leaf = &schema;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
  std::string path;
  for (const std::string& part : parts) {
    if (!leaf->is_object() || !leaf->contains(part)) {
      *error = "--set " + key + ": " + Join(path, part) + ": unknown key" +
               (leaf->is_object() ? " (known: " + KnownKeys(*leaf) + ")" : "");
      return false;
    }
    path = Join(path, part);
    leaf = &(*leaf)[part];
  }
  json value;
  if (leaf->is_object()) {
    *error = "--set " + key + ": is a mapping; set one of its keys (" + KnownKeys(*leaf) + ")";
    return false;
  } else if (leaf->is_boolean()) {
    bool b = false;
    if (!weft::yaml::ParseBool(text, &b)) {
      *error = "--set " + key + ": must be true or false";
      return false;
    }
    value = b;
  } else {
    value = text;
  }
  json overrides = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) overrides = json{{*it, overrides}};
  return MergeValues(values, overrides, "--set", error);
}

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string p = address.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *port = std::stoi(p);
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  return *port <= 65535;
}

std::string XdsTlsAddress(const json& values) {
  const std::string explicit_address = values.value("xdsTlsAddress", "");
  if (!explicit_address.empty()) return explicit_address;
  std::string host;
  int port = 0;
  if (!SplitHostPort(values.value("xdsAddress", ""), &host, &port)) return "";
  // Istio's istiod serves its CA and xDS over TLS on 15012 beside the plaintext 15010.
  return host + (port == 0 ? ":0" : ":15012");
}

bool ValidateValues(const json& values, std::string* error) {
  for (const char* key : {"apiAddress", "xdsAddress", "xdsTlsAddress"}) {
    std::string host;
    int port = 0;
    const std::string text = values[key].get<std::string>();
    if (std::string(key) == "xdsTlsAddress" && text.empty()) continue;  // derived
    if (!SplitHostPort(text, &host, &port)) {
      *error = std::string(key) + ": must be HOST:PORT with PORT 0..65535 (0: any free port)";
      return false;
    }
  }
  const std::string ttl = values["security"]["workloadCertTTL"];
  if (const auto ns = control::ParseDuration(ttl); !ns || *ns < 1'000'000'000) {
    *error = "security.workloadCertTTL: " + control::DurationError(ttl, 1'000'000'000);
    return false;
  }
  const std::string cacerts = values["security"]["cacerts"];
  for (const char* file : {"ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"}) {
    if (cacerts.empty()) break;
    std::ifstream probe(cacerts + "/" + file);
    if (!probe) {
      *error = "security.cacerts: " + cacerts + "/" + file +
               " cannot be read (Istio's plug-in CA files: ca-cert.pem, ca-key.pem, "
               "cert-chain.pem, root-cert.pem)";
      return false;
    }
  }
  const std::string grace = values["registrationGrace"];
  if (!control::ParseDuration(grace)) {
    *error = "registrationGrace: " + control::DurationError(grace);
    return false;
  }
  static const std::vector<std::string> levels = {"trace", "debug",    "info", "warning",
                                                  "error", "critical", "off"};
  if (std::find(levels.begin(), levels.end(), values["logLevel"].get<std::string>()) ==
      levels.end()) {
    *error = "logLevel: must be one of trace, debug, info, warning, error, critical, off";
    return false;
  }
  const std::string mode = values["meshConfig"]["outboundTrafficPolicy"]["mode"];
  if (mode != "ALLOW_ANY" && mode != "REGISTRY_ONLY") {
    *error = "meshConfig.outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY";
    return false;
  }
  if (!ValidCidr(values["network"]["subnet"])) {
    *error = "network.subnet: must be an IPv4 CIDR such as 10.250.0.0/16 (prefix at most /30)";
    return false;
  }
  const std::string bridge = values["network"]["bridge"];
  if (bridge.empty() || bridge.size() > 15) {  // IFNAMSIZ - 1
    *error = "network.bridge: must be an interface name of 1 to 15 characters";
    return false;
  }
  const std::string upstream = values["dns"]["upstream"];
  in_addr addr{};
  if (!upstream.empty() && inet_pton(AF_INET, upstream.c_str(), &addr) != 1) {
    *error = "dns.upstream: must be an IPv4 address, or \"\" for the host's resolv.conf";
    return false;
  }
  return true;
}

std::vector<std::string> ChangedKeys(const json& a, const json& b) {
  std::vector<std::string> out;
  Diff(a, b, "", &out);
  return out;
}

}  // namespace weft::ctl
