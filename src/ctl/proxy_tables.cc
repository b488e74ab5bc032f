#include "ctl/proxy_tables.h"

#include <algorithm>
#include <functional>

#include "ctl/json_fields.h"

namespace weft::ctl {
namespace {

using nlohmann::json;

constexpr const char* kStatusTypes[] = {"CDS", "LDS", "EDS", "RDS"};  // istioctl's column order

// The pod part of an Istio sidecar node id, or "".
std::string PodOf(const std::string& node_id) {
  size_t a = node_id.find('~');
  size_t b = a == std::string::npos ? a : node_id.find('~', a + 1);
  size_t c = b == std::string::npos ? b : node_id.find('~', b + 1);
  if (c == std::string::npos) return "";
  return node_id.substr(b + 1, c - b - 1);
}

std::string SocketAddress(const json& address) {
  const json& sa = Field(address, "socket_address");
  if (!sa.is_null()) return TextField(sa, "address") + ":" + TextField(sa, "port_value", "0");
  const json& pipe = Field(address, "pipe");
  if (!pipe.is_null()) return "unix://" + TextField(pipe, "path");
  return "-";
}

std::string MatchOf(const json& chain) {
  const json& m = Field(chain, "filter_chain_match");
  std::vector<std::string> parts;
  auto list = [](const json& items, const std::function<std::string(const json&)>& f) {
    std::string out;
    for (const json& i : items) out += (out.empty() ? "" : ",") + f(i);
    return out;
  };
  if (!Items(m, "server_names").empty()) {
    parts.push_back("SNI: " + list(Items(m, "server_names"), Text));
  }
  if (!Items(m, "prefix_ranges").empty()) {
    parts.push_back("Addr: " + list(Items(m, "prefix_ranges"), [](const json& r) {
                      return TextField(r, "address_prefix") + "/" +
                             TextField(r, "prefix_len", "32");
                    }));
  }
  if (m.contains("destination_port")) parts.push_back("Port: " + TextField(m, "destination_port"));
  if (m.contains("transport_protocol"))
    parts.push_back("Trans: " + TextField(m, "transport_protocol"));
  if (!Items(m, "application_protocols").empty()) {
    parts.push_back("App: " + list(Items(m, "application_protocols"), Text));
  }
  if (parts.empty()) return "ALL";
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::string DestinationOf(const json& chain) {
  for (const json& f : Items(chain, "filters")) {
    const json& tc = Field(f, "typed_config");
    const std::string type = TextField(tc, "@type");
    if (type.find("HttpConnectionManager") != std::string::npos) {
      if (tc.contains("rds")) return "Route: " + TextField(tc["rds"], "route_config_name");
      if (tc.contains("route_config"))
        return "Inline Route: " + TextField(tc["route_config"], "name");
    }
    if (type.find("TcpProxy") != std::string::npos) {
      if (tc.contains("cluster")) return "Cluster: " + TextField(tc, "cluster");
      std::string out;
      for (const json& c : Items(Field(tc, "weighted_clusters"), "clusters")) {
        out += (out.empty() ? "" : ",") + TextField(c, "name");
      }
      return "Clusters: " + out;
    }
  }
  const json& filters = Items(chain, "filters");
  return filters.empty() ? "-" : TextField(filters.back(), "name");
}

std::string RouteMatch(const json& route) {
  const json& m = Field(route, "match");
  if (m.contains("prefix")) return TextField(m, "prefix") + "*";
  if (m.contains("path")) return TextField(m, "path");
  if (m.contains("safe_regex")) return "regex: " + TextField(m["safe_regex"], "regex");
  if (m.contains("path_separated_prefix")) return TextField(m, "path_separated_prefix") + "/*";
  return "-";
}

// The VirtualService ("name.namespace") whose hosts name the virtual host's service.
std::string VirtualServiceOf(const json& vhost, const json& virtual_services) {
  if (!virtual_services.is_object()) return "-";
  std::string host = TextField(vhost, "name");
  host = host.substr(0, host.rfind(':'));
  for (const json& vs : Items(virtual_services, "items")) {
    const json& meta = Field(vs, "metadata");
    const std::string ns = TextField(meta, "namespace", "default");
    if (!Items(Field(vs, "spec"), "gateways").empty()) {
      bool mesh = false;
      for (const json& g : Items(Field(vs, "spec"), "gateways")) mesh |= g == "mesh";
      if (!mesh) continue;  // a gateway's routes, not the sidecar's
    }
    for (const json& h : Items(Field(vs, "spec"), "hosts")) {
      if (!h.is_string()) continue;
      std::string name = h.get<std::string>();
      // A short name is relative to the VirtualService's namespace (Istio's host resolution).
      if (name.find('.') == std::string::npos) name += "." + ns + ".svc.cluster.local";
      if (name == host) return TextField(meta, "name") + "." + ns;
    }
  }
  return "-";
}

}  // namespace

ProxyChoice ResolveProxy(const std::vector<std::string>& node_ids, const std::string& arg) {
  if (std::find(node_ids.begin(), node_ids.end(), arg) != node_ids.end()) return {arg, ""};
  for (bool by_pod : {false, true}) {
    std::vector<std::string> matches;
    for (const std::string& id : node_ids) {
      const std::string subject = by_pod ? PodOf(id) : id;
      if (!subject.empty() && subject.rfind(arg, 0) == 0) matches.push_back(id);
    }
    if (matches.size() == 1) return {matches[0], ""};
    if (matches.size() > 1) {
      std::string error = "proxy \"" + arg + "\" is ambiguous; it matches " +
                          std::to_string(matches.size()) + " proxies:";
      for (const std::string& m : matches) error += "\n  " + m;
      return {"", error};
    }
  }
  return {"", "proxy \"" + arg +
                  "\" not found (no proxy's node id or pod name starts with it; "
                  "see weftctl proxy-status)"};
}

Table ProxyStatusTable(const json& debug) {
  Table table({"NAME", "NAMESPACE", "IP", "CDS", "LDS", "EDS", "RDS", "WEFTD"});
  const json& weftd = Field(debug, "weftd");
  const std::string version =
      TextField(weftd, "version", "?") + " (revision " + TextField(weftd, "revision") + ")";
  for (const json& p : Items(debug, "proxies")) {
    if (Field(p, "open_streams").is_number() && p["open_streams"].get<int>() <= 0) continue;
    std::vector<std::string> row = {TextField(p, "node_id"), TextField(p, "namespace", "-"),
                                    TextField(p, "ip", "-")};
    for (std::string& cell : row) {
      if (cell.empty()) cell = "-";
    }
    for (const char* type : kStatusTypes) {
      row.push_back(TextField(Field(Field(p, "types"), type), "status", "NOT SENT"));
    }
    row.push_back(version);
    table.AddRow(std::move(row));
  }
  return table;
}

std::string NackErrors(const json& debug) {
  std::string out;
  for (const json& p : Items(debug, "proxies")) {
    if (Field(p, "open_streams").is_number() && p["open_streams"].get<int>() <= 0) continue;
    for (const char* type : kStatusTypes) {
      const json& t = Field(Field(p, "types"), type);
      if (TextField(t, "status") != "NACKED") continue;
      out += TextField(p, "node_id") + " " + type + ": " + TextField(t, "nack_error") + "\n";
    }
  }
  return out.empty() ? out : "\nNACK errors:\n" + out;
}

std::string ProxyStatusDetails(const json& p) {
  std::string out;
  auto line = [&out](const std::string& key, const std::string& value) {
    out += key + std::string(key.size() < 12 ? 12 - key.size() : 1, ' ') +
           (value.empty() ? "-" : value) + "\n";
  };
  const json& weftd = Field(p, "weftd");
  line("Proxy:", TextField(p, "node_id"));
  line("Namespace:", TextField(p, "namespace"));
  line("IP:", TextField(p, "ip"));
  line("Streams:", TextField(p, "open_streams", "0"));
  line("weftd:",
       TextField(weftd, "version") + " (store revision " + TextField(weftd, "revision") + ")");
  out += "\n";
  Table types(
      {"TYPE", "STATUS", "SENT VERSION", "ACKED VERSION", "NONCE", "PUSHES", "ACKS", "NACKS"});
  std::string nacks, earlier;
  for (const char* type : kStatusTypes) {
    const json& t = Field(Field(p, "types"), type);
    auto dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
    types.AddRow({type, TextField(t, "status", "NOT SENT"), dash(TextField(t, "sent_version")),
                  dash(TextField(t, "acked_version")), dash(TextField(t, "sent_nonce")),
                  TextField(t, "pushes", "0"), TextField(t, "acks", "0"),
                  TextField(t, "nacks", "0")});
    if (!TextField(t, "nack_error").empty()) {
      nacks += std::string(type) + " version " + TextField(t, "nack_version") +
               " was rejected: " + TextField(t, "nack_error") + "\n";
    } else if (!TextField(t, "last_nack_error").empty()) {
      earlier += std::string(type) + " version " + TextField(t, "last_nack_version") +
                 " was rejected: " + TextField(t, "last_nack_error") + "\n";
    }
  }
  out += types.Render();
  if (!nacks.empty()) {
    out += "\nNACKs (the proxy keeps running the last version it ACKed):\n" + nacks;
  }
  if (!earlier.empty()) {
    out += "\nEarlier NACKs (a later response of the type was ACKed):\n" + earlier;
  }
  const json& warnings = Items(p, "warnings");
  if (!warnings.empty()) {
    out += "\nTranslation warnings:\n";
    for (const json& w : warnings) out += "  " + Text(w) + "\n";
  }
  return out;
}

ClusterName ParseClusterName(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t bar; (bar = name.find('|', start)) != std::string::npos; start = bar + 1) {
    parts.push_back(name.substr(start, bar - start));
  }
  parts.push_back(name.substr(start));
  if (parts.size() == 4) {
    return {parts[0], parts[1], parts[2].empty() ? "-" : parts[2], parts[3]};
  }
  return {"-", "-", "-", name};
}

Table ClustersTable(const json& clusters) {
  Table table({"SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE"});
  for (const json& c : clusters) {
    ClusterName n = ParseClusterName(TextField(c, "name"));
    // Cluster.type's default is STATIC (enum value 0, which the JSON mapping leaves out);
    // a cluster_type extension names itself.
    std::string type = TextField(c, "type", "STATIC");
    if (c.contains("cluster_type")) type = TextField(c["cluster_type"], "name");
    table.AddRow({n.fqdn, n.port, n.subset, n.direction, type});
  }
  return table;
}

Table ListenersTable(const json& listeners) {
  Table table({"ADDRESS", "PORT", "MATCH", "DESTINATION"});
  for (const json& l : listeners) {
    const json& sa = Field(Field(l, "address"), "socket_address");
    const std::string address =
        sa.is_null() ? SocketAddress(Field(l, "address")) : TextField(sa, "address");
    const std::string port = sa.is_null() ? "-" : TextField(sa, "port_value", "0");
    for (const json& chain : Items(l, "filter_chains")) {
      table.AddRow({address, port, MatchOf(chain), DestinationOf(chain)});
    }
    if (l.contains("default_filter_chain")) {
      table.AddRow({address, port, "(default)", DestinationOf(l["default_filter_chain"])});
    }
  }
  return table;
}

Table RoutesTable(const json& route_configs, const json& virtual_services) {
  Table table({"NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"});
  for (const json& rc : route_configs) {
    for (const json& vh : Items(rc, "virtual_hosts")) {
      const json& domains = Items(vh, "domains");
      std::string d = domains.empty() ? "-" : Text(domains[0]);
      if (domains.size() > 1) d += " + " + std::to_string(domains.size() - 1) + " more...";
      const std::string vs = VirtualServiceOf(vh, virtual_services);
      for (const json& r : Items(vh, "routes")) {
        table.AddRow({TextField(rc, "name"), TextField(vh, "name"), d, RouteMatch(r), vs});
      }
    }
  }
  return table;
}

Table EndpointsTable(const json& load_assignments) {
  Table table({"ENDPOINT", "STATUS", "CLUSTER"});
  for (const json& cla : load_assignments) {
    for (const json& locality : Items(cla, "endpoints")) {
      for (const json& lb : Items(locality, "lb_endpoints")) {
        // As weftd sent it: an absent health_status is UNKNOWN, which Envoy routes to like
        // HEALTHY (envoy.config.core.v3.HealthStatus); istioctl prints it HEALTHY too.
        std::string status = TextField(lb, "health_status", "HEALTHY");
        if (status == "UNKNOWN") status = "HEALTHY";
        table.AddRow({SocketAddress(Field(Field(lb, "endpoint"), "address")), status,
                      TextField(cla, "cluster_name")});
      }
    }
  }
  return table;
}

}  // namespace weft::ctl
