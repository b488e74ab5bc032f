// `weftctl install`'s values: a profile's defaults, then each `-f` file, then each `--set a.b=c`,
// merged into one JSON object that says everything about how weftd is run (issue 5 contract
// section 5). Like Istio's IstioOperator values, every key is known: an unknown key is refused
// with its path, and a value of the wrong type or form with its path and what it must be.
//
//   apiAddress: 127.0.0.1:15080      weftd --api-addr (port 0: any free port)
//   xdsAddress: 0.0.0.0:15010        weftd --xds-addr (0.0.0.0: capture-mode pods reach it on
//                                    the bridge address)
//   xdsTlsAddress: ""                weftd --xds-tls-addr: its CA and ADS over TLS ("":
//   xdsAddress's
//                                    host on Istio's 15012, or port 0 when xdsAddress's is 0)
//   registrationGrace: 10s           weftd --registration-grace
//   logLevel: info                   weftd --log-level
//   meshConfig: {...}                written to mesh-config.yaml, weftd --mesh-config
//   network: {bridge: weft0, subnet: 10.250.0.0/16}   read by add-to-mesh
//   dns: {upstream: ""}              read by add-to-mesh ("" = the host's first non-loopback
//                                    nameserver)
//   security: {workloadCertTTL: 24h, cacerts: ""}   weftd --workload-cert-ttl, --cacerts DIR
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace weft::ctl {

// "default", "minimal", "demo" (docs/user-guide/install.md says what each sets).
const std::vector<std::string>& ProfileNames();
// The profile's complete values; nullopt for an unknown profile.
std::optional<nlohmann::json> ProfileValues(const std::string& profile);

// `values` (e.g. an older install record's) with every key the default profile has that it lacks.
nlohmann::json WithDefaults(const nlohmann::json& values);

// Merges `overrides` (an object) into `values`, refusing keys the default profile does not
// have: `error` = "<where>: meshConfig.foo: unknown key (known: ...)".
bool MergeValues(nlohmann::json* values, const nlohmann::json& overrides, const std::string& where,
                 std::string* error);
// One values file (YAML or JSON, a single mapping document), merged.
bool MergeValuesFile(nlohmann::json* values, const std::string& path, std::string* error);
// One `--set a.b.c=value`: the value takes the type of the key's default (a string stays a
// string, true/false for booleans).
bool ApplySet(nlohmann::json* values, const std::string& assignment, std::string* error);
// The forms merge cannot check: HOST:PORT addresses, the duration, the CIDR, the enum.
bool ValidateValues(const nlohmann::json& values, std::string* error);

// weftd's --xds-tls-addr for these values (xdsTlsAddress, or derived from xdsAddress).
std::string XdsTlsAddress(const nlohmann::json& values);

// The paths whose values differ between `a` and `b` ("meshConfig.trustDomain, logLevel").
std::vector<std::string> ChangedKeys(const nlohmann::json& a, const nlohmann::json& b);

// "HOST:PORT" -> HOST and PORT (false when it is not of that form or PORT is not 0..65535).
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace weft::ctl
