#include "control/model/istio_schemas.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "control/model/formats.h"

// Field names and types follow Istio's networking API (istio/api networking/v1alpha3/*.proto, in
// their JSON spelling); the rules follow istio/istio pkg/config/validation/validation.go. Where
// the issue asks for a stricter rule than today's Istio (weights of several destinations must sum
// to 100, as Istio required before 1.20), the comment says so.

namespace weft::control {
namespace {

using nlohmann::json;
using S = const std::string&;

constexpr int64_t kMillisecond = 1000000;

std::string Bad(const json& v, std::string_view why) {
  return "Invalid value: " + v.dump() + ": " + std::string(why);
}

// ---- formats as field types ----

TypePtr Duration(int64_t min_ns = 0) {
  return String([min_ns](const json& v, S path, Errors& e) {
    if (std::string why = DurationError(v.get<std::string>(), min_ns); !why.empty())
      e.Invalid(path, Bad(v, why));
  });
}

TypePtr Regex() {
  return String([](const json& v, S path, Errors& e) {
    if (std::string why = RegexError(v.get<std::string>()); !why.empty())
      e.Invalid(path, Bad(v, why));
  });
}

TypePtr Host() {
  return String([](const json& v, S path, Errors& e) {
    if (std::string why = WildcardHostError(v.get<std::string>()); !why.empty())
      e.Invalid(path, Bad(v, why));
  });
}

TypePtr Port() { return Int(1, 65535); }
TypePtr Percent() { return Number(0, 100); }
TypePtr Strings() { return List(String()); }

TypePtr Subnets() {
  return List(String([](const json& v, S path, Errors& e) {
    if (!IsCidrOrIp(v.get<std::string>())) e.Invalid(path, Bad(v, "not an IP address or CIDR"));
  }));
}

TypePtr Hosts() { return List(Host()); }

// exportTo: "." (this namespace), "*" (all), or a namespace name.
TypePtr ExportTo() {
  return List(String([](const json& v, S path, Errors& e) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s != "." && s != "*" && s != "~" && !IsDns1123Label(s))
      e.Invalid(path, Bad(v, "must be \".\", \"*\" or a namespace name"));
  }));
}

// Istio's protocol names (pkg/config/protocol), matched case-insensitively as Istio does.
TypePtr Protocol() {
  return String([](const json& v, S path, Errors& e) {
    static const std::set<std::string> known = {"HTTP",  "HTTPS",  "GRPC",      "GRPC-WEB", "HTTP2",
                                                "MONGO", "MYSQL",  "REDIS",     "TCP",      "TLS",
                                                "UDP",   "THRIFT", "HTTP_PROXY"};
    if (!known.contains(absl::AsciiStrToUpper(v.get<std::string>())))
      e.Add(FieldError::Type::kNotSupported, path,
            "Unsupported value: " + v.dump() +
                ": supported values: HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, "
                "TCP, TLS, UDP");
  });
}

TypePtr WorkloadSelector() { return Object({{"labels", StringMap()}}); }

// ---- shared messages ----

TypePtr StringMatch() {
  return Object({{"exact", String()}, {"prefix", String()}, {"regex", Regex()}}, nullptr,
                {{"exact", "prefix", "regex"}});
}

TypePtr PortSelector() { return Object({{"number", Port()}}); }

TypePtr Destination() {
  return Object({{"host", Host(), true}, {"subset", String()}, {"port", PortSelector()}});
}

TypePtr HeaderOperations() {
  return Object({{"set", StringMap()}, {"add", StringMap()}, {"remove", Strings()}});
}

TypePtr Headers() {
  return Object({{"request", HeaderOperations()}, {"response", HeaderOperations()}});
}

TypePtr PercentValue() { return Object({{"value", Percent()}}); }

// Several destinations share the traffic: their weights must sum to 100 (the rule, and
// Istio's until 1.20; one destination may leave its weight unset).
Check WeightsSumTo100() {
  return [](const json& routes, S path, Errors& e) {
    if (routes.size() < 2) return;
    double sum = 0;
    for (const json& r : routes)
      if (r.is_object() && r.contains("weight") && r["weight"].is_number())
        sum += r["weight"].get<double>();
    if (sum != 100)
      e.Invalid(path, "Invalid value: total weight " + json(sum).dump() +
                          ": the weights of several destinations must sum to 100");
  };
}

TypePtr RouteDestinations(TypePtr destination) { return List(destination, WeightsSumTo100()); }

// ---- VirtualService ----

TypePtr HttpMatchRequest() {
  TypePtr match = StringMatch();
  return Object({
      {"name", String()},
      {"uri", match},
      {"scheme", match},
      {"method", match},
      {"authority", match},
      {"headers", Map(match)},
      {"port", Port()},
      {"sourceLabels", StringMap()},
      {"gateways", Strings()},
      {"queryParams", Map(match)},
      {"ignoreUriCase", Bool()},
      {"withoutHeaders", Map(match)},
      {"sourceNamespace", String()},
      {"statPrefix", String()},
  });
}

TypePtr HttpFault() {
  TypePtr delay = Object(
      {
          {"fixedDelay", Duration(kMillisecond)},
          {"exponentialDelay", Duration(kMillisecond)},
          {"percentage", PercentValue()},
          {"percent", Int(0, 100)},  // deprecated int form Istio still accepts
      },
      [](const json& v, S path, Errors& e) {
        if (!v.contains("fixedDelay") && !v.contains("exponentialDelay"))
          e.Required(Child(path, "fixedDelay"), "Required value: a delay needs fixedDelay");
      },
      {{"fixedDelay", "exponentialDelay"}});
  TypePtr abort = Object(
      {
          {"httpStatus", Int(200, 599)},
          {"grpcStatus", String()},
          {"http2Error", String()},
          {"percentage", PercentValue()},
          {"percent", Int(0, 100)},  // deprecated int form Istio still accepts
      },
      [](const json& v, S path, Errors& e) {
        if (!v.contains("httpStatus") && !v.contains("grpcStatus") && !v.contains("http2Error"))
          e.Required(Child(path, "httpStatus"),
                     "Required value: an abort needs httpStatus, grpcStatus or http2Error");
      },
      {{"httpStatus", "grpcStatus", "http2Error"}});
  return Object({{"delay", delay}, {"abort", abort}}, [](const json& v, S path, Errors& e) {
    if (!v.contains("delay") && !v.contains("abort"))
      e.Required(Child(path, "delay"), "Required value: a fault needs delay or abort");
  });
}

TypePtr HttpRoute() {
  TypePtr redirect = Object(
      {
          {"uri", String()},
          {"authority", String()},
          {"port", Port()},
          {"derivePort", Enum({"FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"})},
          {"scheme", String()},
          {"redirectCode", Int(300, 399)},
      },
      nullptr, {{"port", "derivePort"}});
  TypePtr direct_response = Object({
      {"status", Int(200, 599), true},
      {"body", Object({{"string", String()}, {"bytes", String()}}, nullptr, {{"string", "bytes"}})},
  });
  TypePtr rewrite = Object(
      {
          {"uri", String()},
          {"authority", String()},
          {"uriRegexRewrite", Object({{"match", Regex()}, {"rewrite", String()}})},
      },
      nullptr, {{"uri", "uriRegexRewrite"}});
  TypePtr retries = Object({
      {"attempts", Int(0)},
      {"perTryTimeout", Duration(kMillisecond)},
      {"retryOn", String()},
      {"retryRemoteLocalities", Bool()},
  });
  TypePtr cors = Object({
      {"allowOrigins", List(StringMatch())},
      {"allowOrigin", Strings()},
      {"allowMethods", Strings()},
      {"allowHeaders", Strings()},
      {"exposeHeaders", Strings()},
      {"maxAge", Duration()},
      {"allowCredentials", Bool()},
      {"unmatchedPreflights", Enum({"UNSPECIFIED", "FORWARD", "IGNORE"})},
  });
  TypePtr route_destination = Object({
      {"destination", Destination(), true},
      {"weight", Int(0, 100)},
      {"headers", Headers()},
  });
  return Object(
      {
          {"name", String()},
          {"match", List(HttpMatchRequest())},
          {"route", RouteDestinations(route_destination)},
          {"redirect", redirect},
          {"directResponse", direct_response},
          {"delegate", Object({{"name", String()}, {"namespace", String()}})},
          {"rewrite", rewrite},
          {"timeout", Duration()},
          {"retries", retries},
          {"fault", HttpFault()},
          {"mirror", Destination()},
          {"mirrors",
           List(Object({{"destination", Destination(), true}, {"percentage", PercentValue()}}))},
          {"mirrorPercentage", PercentValue()},
          {"mirrorPercent", Int(0, 100)},
          {"corsPolicy", cors},
          {"headers", Headers()},
      },
      [](const json& v, S path, Errors& e) {
        // Istio: "HTTP route, redirect, direct response or delegate is required".
        if (!v.contains("route") && !v.contains("redirect") && !v.contains("directResponse") &&
            !v.contains("delegate"))
          e.Required(Child(path, "route"),
                     "Required value: HTTP route, redirect, directResponse or delegate is "
                     "required");
        if (v.contains("redirect") && v.contains("route"))
          e.Invalid(Child(path, "redirect"),
                    "Invalid value: HTTP route cannot contain both route and redirect");
        if (v.contains("directResponse") && (v.contains("route") || v.contains("redirect")))
          e.Invalid(Child(path, "directResponse"),
                    "Invalid value: directResponse cannot be combined with route or redirect");
      });
}

TypePtr L4RouteDestinations() {
  return RouteDestinations(Object({{"destination", Destination(), true}, {"weight", Int(0, 100)}}));
}

TypePtr VirtualService() {
  TypePtr tls_route = Object({
      {"match",
       List(Object({{"sniHosts", Hosts(), true},
                    {"destinationSubnets", Subnets()},
                    {"port", Port()},
                    {"sourceLabels", StringMap()},
                    {"gateways", Strings()},
                    {"sourceNamespace", String()}})),
       true},
      {"route", L4RouteDestinations(), true},
  });
  TypePtr tcp_route = Object({
      {"match", List(Object({{"destinationSubnets", Subnets()},
                             {"port", Port()},
                             {"sourceLabels", StringMap()},
                             {"gateways", Strings()},
                             {"sourceNamespace", String()},
                             {"sourceSubnet", String()}}))},
      {"route", L4RouteDestinations(), true},
  });
  return Object(
      {
          {"hosts", Hosts()},
          {"gateways", Strings()},
          {"http", List(HttpRoute())},
          {"tls", List(tls_route)},
          {"tcp", List(tcp_route)},
          {"exportTo", ExportTo()},
      },
      [](const json& v, S path, Errors& e) {
        // Hosts may be empty only for a delegate VirtualService (one with no gateways that
        // another VirtualService delegates to); Istio refuses it otherwise.
        if (!v.contains("hosts") || v["hosts"].empty())
          e.Required(Child(path, "hosts"), "Required value: at least one host is required");
        if (!v.contains("http") && !v.contains("tcp") && !v.contains("tls"))
          e.Required(Child(path, "http"), "Required value: http, tcp or tls must be provided");
      });
}

// ---- DestinationRule ----

TypePtr TrafficPolicyFields(bool with_port_level);

TypePtr LoadBalancer() {
  TypePtr consistent_hash = Object(
      {
          {"httpHeaderName", String()},
          {"httpCookie",
           Object({{"name", String(), true}, {"path", String()}, {"ttl", Duration()}})},
          {"useSourceIp", Bool()},
          {"httpQueryParameterName", String()},
          {"ringHash", Object({{"minimumRingSize", Int(0)}})},
          {"maglev", Object({{"tableSize", Int(0)}})},
          {"minimumRingSize", Int(0)},
      },
      [](const json& v, S path, Errors& e) {
        if (!v.contains("httpHeaderName") && !v.contains("httpCookie") &&
            !v.contains("useSourceIp") && !v.contains("httpQueryParameterName"))
          e.Required(path,
                     "Required value: one of httpHeaderName, httpCookie, useSourceIp, "
                     "httpQueryParameterName is required");
      },
      {{"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"},
       {"ringHash", "maglev"}});
  TypePtr locality = Object(
      {
          {"distribute", List(Object({{"from", String()}, {"to", Map(Int(0, 100))}}))},
          {"failover", List(Object({{"from", String()}, {"to", String()}}))},
          {"failoverPriority", Strings()},
          {"enabled", Bool()},
      },
      nullptr, {{"distribute", "failover"}});
  return Object(
      {
          {"simple", Enum({"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN",
                           "LEAST_REQUEST"})},
          {"consistentHash", consistent_hash},
          {"localityLbSetting", locality},
          {"warmupDurationSecs", Duration(kMillisecond)},
          {"warmup", Object({{"duration", Duration(kMillisecond), true},
                             {"minimumPercent", Number(0, 100)},
                             {"aggression", Number(1)}})},
      },
      nullptr, {{"simple", "consistentHash"}});
}

TypePtr ConnectionPool() {
  // Istio: every count non-negative, every timeout at least 1ms.
  TypePtr tcp = Object({
      {"maxConnections", Int(0)},
      {"connectTimeout", Duration(kMillisecond)},
      {"tcpKeepalive", Object({{"probes", Int(0)},
                               {"time", Duration(kMillisecond)},
                               {"interval", Duration(kMillisecond)}})},
      {"maxConnectionDuration", Duration(kMillisecond)},
      {"idleTimeout", Duration()},
  });
  TypePtr http = Object({
      {"http1MaxPendingRequests", Int(0)},
      {"http2MaxRequests", Int(0)},
      {"maxRequestsPerConnection", Int(0)},
      {"maxRetries", Int(0)},
      {"idleTimeout", Duration(kMillisecond)},
      {"h2UpgradePolicy", Enum({"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"})},
      {"useClientProtocol", Bool()},
      {"maxConcurrentStreams", Int(0)},
  });
  return Object({{"tcp", tcp}, {"http", http}});
}

TypePtr OutlierDetection() {
  return Object({
      {"splitExternalLocalOriginErrors", Bool()},
      {"consecutiveLocalOriginFailures", Int(0)},
      {"consecutiveGatewayErrors", Int(0)},
      {"consecutive5xxErrors", Int(0)},
      {"consecutiveErrors", Int(0)},
      {"interval", Duration(kMillisecond)},
      {"baseEjectionTime", Duration(kMillisecond)},
      {"maxEjectionPercent", Int(0, 100)},
      {"minHealthPercent", Int(0, 100)},
  });
}

TypePtr ClientTls() {
  return Object({
      {"mode", Enum({"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"})},
      {"clientCertificate", String()},
      {"privateKey", String()},
      {"caCertificates", String()},
      {"credentialName", String()},
      {"subjectAltNames", Strings()},
      {"sni", String()},
      {"insecureSkipVerify", Bool()},
      {"caCrl", String()},
  });
}

TypePtr TrafficPolicyFields(bool with_port_level) {
  std::vector<FieldDef> fields = {
      {"loadBalancer", LoadBalancer()},
      {"connectionPool", ConnectionPool()},
      {"outlierDetection", OutlierDetection()},
      {"tls", ClientTls()},
  };
  if (with_port_level) {
    fields.push_back({"portLevelSettings", List(Object({{"port", PortSelector(), true},
                                                        {"loadBalancer", LoadBalancer()},
                                                        {"connectionPool", ConnectionPool()},
                                                        {"outlierDetection", OutlierDetection()},
                                                        {"tls", ClientTls()}}))});
    fields.push_back({"tunnel", Object({{"protocol", Enum({"CONNECT", "POST"})},
                                        {"targetHost", String(), true},
                                        {"targetPort", Port(), true}})});
    fields.push_back({"proxyProtocol", Object({{"version", Enum({"V1", "V2"})}})});
  }
  return Object(std::move(fields));
}

TypePtr DestinationRule() {
  TypePtr subset = Object({
      {"name", String([](const json& v, S path, Errors& e) {
         if (!IsDns1123Label(v.get<std::string>()))
           e.Invalid(path, Bad(v, "a subset name must be a lowercase RFC 1123 label"));
       }),
       true},
      {"labels", StringMap()},
      {"trafficPolicy", TrafficPolicyFields(true)},
  });
  return Object({
      {"host", Host(), true},
      {"trafficPolicy", TrafficPolicyFields(true)},
      {"subsets", List(subset,
                       [](const json& subsets, S path, Errors& e) {
                         std::set<std::string> seen;
                         for (size_t i = 0; i < subsets.size(); ++i) {
                           const json& name =
                               subsets[i].is_object() ? subsets[i].value("name", json()) : json();
                           if (name.is_string() && !seen.insert(name.get<std::string>()).second)
                             e.Add(FieldError::Type::kDuplicate, Child(Index(path, i), "name"),
                                   "Duplicate value: " + name.dump());
                         }
                       })},
      {"exportTo", ExportTo()},
      {"workloadSelector", Object({{"matchLabels", StringMap()}})},
  });
}

// ---- ServiceEntry, WorkloadEntry, WorkloadGroup ----

TypePtr WorkloadEntrySpec(bool address_required) {
  return Object({
      {"address", String([](const json& v, S path, Errors& e) {
         const std::string& s = v.get_ref<const std::string&>();
         // An IP, a DNS name (resolution DNS) or a Unix domain socket ("unix:///path").
         if (s.rfind("unix://", 0) == 0) return;
         if (!IsIp(s) && !IsDns1123Subdomain(absl::AsciiStrToLower(s)))
           e.Invalid(path, Bad(v, "must be an IP address, a host name or unix:// path"));
       }),
       address_required},
      {"ports", Map(Port())},
      {"labels", StringMap()},
      {"network", String()},
      {"locality", String()},
      {"weight", Int(0)},
      {"serviceAccount", String()},
  });
}

TypePtr ServicePorts() {
  TypePtr port = Object({
      {"number", Port(), true},
      {"protocol", Protocol(), true},
      {"name", String([](const json& v, S path, Errors& e) {
         if (!IsDns1123Label(absl::AsciiStrToLower(v.get<std::string>())))
           e.Invalid(path, Bad(v, "a port name must be an RFC 1123 label"));
       }),
       true},
      {"targetPort", Port()},
  });
  return List(port, [](const json& ports, S path, Errors& e) {
    std::set<std::string> names;
    for (size_t i = 0; i < ports.size(); ++i) {
      const json& name = ports[i].is_object() ? ports[i].value("name", json()) : json();
      if (name.is_string() && !names.insert(name.get<std::string>()).second)
        e.Add(FieldError::Type::kDuplicate, Child(Index(path, i), "name"),
              "Duplicate value: " + name.dump() + ": port names must be unique");
    }
  });
}

TypePtr ServiceEntry() {
  return Object(
      {
          {"hosts", Hosts(), true},
          {"addresses", Subnets()},
          {"ports", ServicePorts()},
          {"location", Enum({"MESH_EXTERNAL", "MESH_INTERNAL"})},
          {"resolution", Enum({"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"})},
          {"endpoints", List(WorkloadEntrySpec(false))},
          {"workloadSelector", WorkloadSelector()},
          {"exportTo", ExportTo()},
          {"subjectAltNames", Strings()},
      },
      [](const json& v, S path, Errors& e) {
        const std::string resolution = v.value("resolution", json("NONE")).is_string()
                                           ? v.value("resolution", std::string("NONE"))
                                           : "NONE";
        if (v.contains("endpoints") && v.contains("workloadSelector"))
          e.Invalid(Child(path, "workloadSelector"),
                    "Invalid value: only one of endpoints or workloadSelector may be set");
        // Istio: STATIC endpoints must be IPs (or unix sockets); a wildcard host needs NONE.
        if (v.contains("endpoints") && v["endpoints"].is_array()) {
          const json& eps = v["endpoints"];
          for (size_t i = 0; i < eps.size(); ++i) {
            if (!eps[i].is_object()) continue;
            const json& addr = eps[i].value("address", json());
            if (resolution == "STATIC" && addr.is_string() &&
                addr.get<std::string>().rfind("unix://", 0) != 0 && !IsIp(addr.get<std::string>()))
              e.Invalid(Child(Index(Child(path, "endpoints"), i), "address"),
                        Bad(addr, "resolution STATIC needs IP addresses"));
            if (resolution == "STATIC" && !addr.is_string())
              e.Required(Child(Index(Child(path, "endpoints"), i), "address"));
          }
        }
        if (resolution == "DNS" || resolution == "DNS_ROUND_ROBIN" || resolution == "STATIC") {
          for (const json& h : v.value("hosts", json::array()))
            if (h.is_string() && h.get<std::string>().find('*') != std::string::npos)
              e.Invalid(Child(path, "hosts"), Bad(h, "a wildcard host needs resolution NONE"));
        }
      });
}

TypePtr ReadinessProbe() {
  return Object(
      {
          {"initialDelaySeconds", Int(0)},
          {"timeoutSeconds", Int(0)},
          {"periodSeconds", Int(0)},
          {"successThreshold", Int(0)},
          {"failureThreshold", Int(0)},
          {"httpGet",
           Object({{"path", String()},
                   {"port", Port(), true},
                   {"host", String()},
                   {"scheme", String()},
                   {"httpHeaders", List(Object({{"name", String()}, {"value", String()}}))}})},
          {"tcpSocket", Object({{"host", String()}, {"port", Port(), true}})},
          {"exec", Object({{"command", Strings(), true}})},
          {"grpc", Object({{"port", Port(), true}, {"service", String()}})},
      },
      nullptr, {{"httpGet", "tcpSocket", "exec", "grpc"}});
}

TypePtr WorkloadGroup() {
  return Object({
      {"metadata", Object({{"labels", StringMap()}, {"annotations", StringMap()}})},
      // The template's address is filled in per workload when it registers.
      {"template", WorkloadEntrySpec(false), true},
      {"probe", ReadinessProbe()},
  });
}

// ---- Sidecar, Gateway ----

TypePtr SidecarPort() {
  return Object(
      {{"number", Port()}, {"protocol", Protocol()}, {"name", String()}, {"targetPort", Port()}});
}

TypePtr ServerTls() {
  return Object({
      {"httpsRedirect", Bool()},
      {"mode", Enum({"PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL",
                     "OPTIONAL_MUTUAL"})},
      {"serverCertificate", String()},
      {"privateKey", String()},
      {"caCertificates", String()},
      {"caCrl", String()},
      {"credentialName", String()},
      {"credentialNames", Strings()},
      {"subjectAltNames", Strings()},
      {"verifyCertificateSpki", Strings()},
      {"verifyCertificateHash", Strings()},
      {"minProtocolVersion", Enum({"TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"})},
      {"maxProtocolVersion", Enum({"TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"})},
      {"cipherSuites", Strings()},
  });
}

// Sidecar egress hosts are "namespace/host": namespace "*", "." (the Sidecar's own), "~" (none)
// or a name; host "*", "*.suffix" or a name (Istio's validateSidecarEgressHosts).
TypePtr EgressHosts() {
  return List(String([](const json& v, S path, Errors& e) {
                const std::string& s = v.get_ref<const std::string&>();
                size_t slash = s.find('/');
                if (slash == std::string::npos) {
                  e.Invalid(path, Bad(v, "must be of the form namespace/dnsName"));
                  return;
                }
                std::string ns = s.substr(0, slash), host = s.substr(slash + 1);
                if (ns != "*" && ns != "." && ns != "~" && !IsDns1123Label(ns))
                  e.Invalid(path, Bad(v, "the namespace must be \"*\", \".\", \"~\" or a name"));
                if (std::string why = WildcardHostError(host); !why.empty())
                  e.Invalid(path, Bad(v, why));
              }),
              nullptr);
}

TypePtr Sidecar() {
  TypePtr capture = Enum({"DEFAULT", "IPTABLES", "NONE"});
  return Object({
      {"workloadSelector", WorkloadSelector()},
      {"ingress", List(Object({{"port", SidecarPort(), true},
                               {"bind", String()},
                               {"captureMode", capture},
                               {"defaultEndpoint", String()},
                               {"tls", ServerTls()},
                               {"connectionPool", ConnectionPool()}}))},
      {"egress", List(Object({{"port", SidecarPort()},
                              {"bind", String()},
                              {"captureMode", capture},
                              {"hosts", EgressHosts(), true}}))},
      {"outboundTrafficPolicy",
       Object({{"mode", Enum({"REGISTRY_ONLY", "ALLOW_ANY"})}, {"egressProxy", Destination()}})},
      {"inboundConnectionPool", ConnectionPool()},
  });
}

TypePtr Gateway() {
  TypePtr server = Object({
      {"port",
       Object({{"number", Port(), true},
               {"protocol", Protocol(), true},
               {"name", String(), true},
               {"targetPort", Port()}}),
       true},
      {"bind", String()},
      {"hosts", List(String()), true},
      {"tls", ServerTls()},
      {"defaultEndpoint", String()},
      {"name", String()},
  });
  return Object({{"selector", StringMap()}, {"servers", List(server), true}});
}

// ---- security.istio.io: PeerAuthentication, AuthorizationPolicy, RequestAuthentication ----
// Fields as istio.io/api security/v1beta1/*.proto; the rules beyond types are Istio's
// (pkg/config/validation/validation.go: ValidatePeerAuthentication,
// ValidateAuthorizationPolicy, ValidateRequestAuthentication).

TypePtr SecuritySelector() { return Object({{"matchLabels", StringMap()}}); }

TypePtr PolicyTargetRef() {
  return Object({{"group", String()},
                 {"kind", String(), true},
                 {"name", String(), true},
                 {"namespace", String()}});
}

TypePtr MtlsMode() {
  return Object({{"mode", Enum({"UNSET", "DISABLE", "PERMISSIVE", "STRICT"})}});
}

TypePtr PeerAuthentication() {
  TypePtr port_level = Map(MtlsMode());
  return Object(
      {{"selector", SecuritySelector()}, {"mtls", MtlsMode()}, {"portLevelMtls", port_level}},
      [](const json& v, S path, Errors& e) {
        const json& ports = v.value("portLevelMtls", json());
        if (!ports.is_object() || ports.empty()) return;
        const json& selector = v.value("selector", json());
        if (!selector.is_object() || selector.value("matchLabels", json::object()).empty())
          e.Invalid(Child(path, "portLevelMtls"),
                    "portLevelMtls requires a workload selector (selector.matchLabels)");
        for (const auto& [key, _] : ports.items()) {
          char* end = nullptr;
          const long port = std::strtol(key.c_str(), &end, 10);
          if (key.empty() || *end != '\0' || port < 1 || port > 65535)
            e.Invalid(Child(Child(path, "portLevelMtls"), key),
                      Bad(json(key), "port must be in range 1..65535"));
        }
      });
}

// Values of `ports` / `notPorts` and `destination.port`: port numbers as strings.
TypePtr PortStrings() {
  return List(String([](const json& v, S path, Errors& e) {
    const std::string& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    const long port = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || port < 1 || port > 65535)
      e.Invalid(path, Bad(v, "port must be in range 1..65535"));
  }));
}

// Istio: a source/operation must set at least one field.
Check NotEmpty(const char* what) {
  return [what](const json& v, S path, Errors& e) {
    if (v.empty()) return;  // an empty object is reported as a missing required field
    bool any = false;
    for (const auto& [_, value] : v.items()) any = any || !value.empty();
    if (!any) e.Invalid(path, std::string(what) + " must not be empty");
  };
}

TypePtr AuthzRule() {
  TypePtr source = Object({{"principals", Strings()},
                           {"notPrincipals", Strings()},
                           {"requestPrincipals", Strings()},
                           {"notRequestPrincipals", Strings()},
                           {"namespaces", Strings()},
                           {"notNamespaces", Strings()},
                           {"ipBlocks", Subnets()},
                           {"notIpBlocks", Subnets()},
                           {"remoteIpBlocks", Subnets()},
                           {"notRemoteIpBlocks", Subnets()}},
                          NotEmpty("source"));
  TypePtr operation = Object({{"hosts", Strings()},
                              {"notHosts", Strings()},
                              {"ports", PortStrings()},
                              {"notPorts", PortStrings()},
                              {"methods", Strings()},
                              {"notMethods", Strings()},
                              {"paths", Strings()},
                              {"notPaths", Strings()}},
                             NotEmpty("operation"));
  TypePtr condition = Object(
      {{"key", String(), true}, {"values", Strings()}, {"notValues", Strings()}},
      [](const json& v, S path, Errors& e) {
        if (v.value("values", json::array()).empty() && v.value("notValues", json::array()).empty())
          e.Invalid(path, "at least one of values or notValues must be set for key " +
                              v.value("key", json("")).dump());
      });
  return Object({{"from", List(Object({{"source", source, true}}))},
                 {"to", List(Object({{"operation", operation, true}}))},
                 {"when", List(condition)}});
}

TypePtr AuthorizationPolicy() {
  return Object({{"selector", SecuritySelector()},
                 {"targetRef", PolicyTargetRef()},
                 {"targetRefs", List(PolicyTargetRef())},
                 {"rules", List(AuthzRule())},
                 {"action", Enum({"ALLOW", "DENY", "AUDIT", "CUSTOM"})},
                 {"provider", Object({{"name", String()}})}},
                [](const json& v, S path, Errors& e) {
                  const json& action = v.value("action", json("ALLOW"));
                  if (action == "CUSTOM") {
                    // Istio's CUSTOM hands the decision to an ext_authz provider weft-proxy lacks.
                    e.Add(FieldError::Type::kNotSupported, Child(path, "action"),
                          "Unsupported value: \"CUSTOM\": not supported yet");
                  } else if (v.contains("provider") && !v["provider"].is_null()) {
                    e.Invalid(Child(path, "provider"),
                              "provider must only be set with action CUSTOM");
                  }
                },
                {{"selector", "targetRef", "targetRefs"}});
}

TypePtr RequestAuthentication() {
  TypePtr rule =
      Object({{"issuer", String(), true},
              {"audiences", Strings()},
              {"jwksUri", String([](const json& v, S path, Errors& e) {
                 const std::string& s = v.get_ref<const std::string&>();
                 if (s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0)
                   e.Invalid(path, Bad(v, "jwksUri must be an http or https URL"));
               })},
              {"jwks", String()},
              {"fromHeaders", List(Object({{"name", String(), true}, {"prefix", String()}}))},
              {"fromParams", Strings()},
              {"fromCookies", Strings()},
              {"outputPayloadToHeader", String()},
              {"forwardOriginalToken", Bool()},
              {"outputClaimToHeaders",
               List(Object({{"header", String(), true}, {"claim", String(), true}}))},
              {"timeout", Duration()}},
             [](const json& v, S path, Errors& e) {
               // Present but empty (absent is the required-field error).
               if (v.contains("issuer") && v["issuer"] == "")
                 e.Required(Child(path, "issuer"), "issuer must be set");
             });
  return Object({{"selector", SecuritySelector()},
                 {"targetRef", PolicyTargetRef()},
                 {"targetRefs", List(PolicyTargetRef())},
                 {"jwtRules", List(rule)}},
                nullptr, {{"selector", "targetRef", "targetRefs"}});
}

}  // namespace

TypePtr SpecSchema(std::string_view kind) {
  static const std::map<std::string, TypePtr, std::less<>> schemas = {
      {"VirtualService", VirtualService()},
      {"DestinationRule", DestinationRule()},
      {"ServiceEntry", ServiceEntry()},
      {"WorkloadEntry", WorkloadEntrySpec(true)},
      {"WorkloadGroup", WorkloadGroup()},
      {"Sidecar", Sidecar()},
      {"Gateway", Gateway()},
      {"PeerAuthentication", PeerAuthentication()},
      {"AuthorizationPolicy", AuthorizationPolicy()},
      {"RequestAuthentication", RequestAuthentication()},
  };
  auto it = schemas.find(kind);
  return it == schemas.end() ? nullptr : it->second;
}

}  // namespace weft::control
