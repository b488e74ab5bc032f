#include "ctl/resource_commands.h"

#include <cstdio>
#include <functional>
#include <set>

#include "ctl/documents.h"
#include "ctl/json_fields.h"
#include "ctl/output.h"

namespace weft::ctl {
namespace {

using nlohmann::json;

// One column of `get`'s table: Istio's CRDs' additionalPrinterColumns (priority 0, always
// shown), then Weft's wide-only ones (`-o wide`, like kubectl's priority-1 columns).
struct Column {
  std::string header;
  std::function<json(const json& object)> value;
  bool wide_only = false;
};

json Spec(const json& o, const char* field) { return Field(Field(o, "spec"), field); }

// "a,b,c" of a list of strings picked from each element of an array.
json Joined(const json& items, const std::function<std::string(const json&)>& pick) {
  if (!items.is_array() || items.empty()) return nullptr;
  std::string out;
  std::set<std::string> seen;
  for (const json& item : items) {
    std::string s = pick(item);
    if (s.empty() || !seen.insert(s).second) continue;
    out += (out.empty() ? "" : ",") + s;
  }
  return out.empty() ? json(nullptr) : json(out);
}

// Columns between NAME and AGE. Istio's CRDs (manifests/charts/base/crds): VirtualService
// Gateways, Hosts; DestinationRule Host; ServiceEntry Hosts, Location, Resolution; WorkloadEntry
// Address (after Age there; kept before it here for one layout).
std::vector<Column> ColumnsOf(std::string_view kind) {
  if (kind == "VirtualService") {
    return {{"GATEWAYS", [](const json& o) { return Spec(o, "gateways"); }},
            {"HOSTS", [](const json& o) { return Spec(o, "hosts"); }},
            {"DESTINATIONS",
             [](const json& o) {
               json routes = json::array();
               for (const char* proto : {"http", "tcp", "tls"}) {
                 for (const json& r : Items(Field(o, "spec"), proto)) {
                   for (const json& d : Items(r, "route")) routes.push_back(d);
                 }
               }
               return Joined(routes, [](const json& d) {
                 const json& dest = Field(d, "destination");
                 std::string s = TextField(dest, "host");
                 if (!TextField(dest, "subset").empty()) s += "/" + TextField(dest, "subset");
                 return s;
               });
             },
             true}};
  }
  if (kind == "DestinationRule") {
    return {{"HOST", [](const json& o) { return Spec(o, "host"); }},
            {"SUBSETS",
             [](const json& o) {
               return Joined(Spec(o, "subsets"),
                             [](const json& s) { return TextField(s, "name"); });
             },
             true}};
  }
  if (kind == "ServiceEntry") {
    return {{"HOSTS", [](const json& o) { return Spec(o, "hosts"); }},
            {"LOCATION", [](const json& o) { return Spec(o, "location"); }},
            {"RESOLUTION", [](const json& o) { return Spec(o, "resolution"); }},
            {"PORTS",
             [](const json& o) {
               return Joined(Spec(o, "ports"), [](const json& p) {
                 return TextField(p, "number") + "/" + TextField(p, "protocol");
               });
             },
             true}};
  }
  if (kind == "WorkloadEntry") {
    return {{"ADDRESS", [](const json& o) { return Spec(o, "address"); }},
            {"LABELS", [](const json& o) { return Spec(o, "labels"); }, true}};
  }
  if (kind == "Gateway") {
    return {{"SERVERS",
             [](const json& o) {
               return Joined(Spec(o, "servers"), [](const json& s) {
                 const json& port = Field(s, "port");
                 return TextField(port, "number") + "/" + TextField(port, "protocol");
               });
             },
             true},
            {"SELECTOR", [](const json& o) { return Spec(o, "selector"); }, true}};
  }
  if (kind == "Sidecar") {
    return {{"EGRESS HOSTS",
             [](const json& o) {
               json hosts = json::array();
               for (const json& e : Items(Field(o, "spec"), "egress")) {
                 for (const json& h : Items(e, "hosts")) hosts.push_back(h);
               }
               return Joined(hosts, Text);
             },
             true}};
  }
  return {};
}

bool SameContent(const json& current, const json& doc) {
  const json& cm = Field(current, "metadata");
  const json& dm = Field(doc, "metadata");
  return Field(current, "spec") == Field(doc, "spec") &&
         Field(cm, "labels") == Field(dm, "labels") &&
         Field(cm, "annotations") == Field(dm, "annotations");
}

}  // namespace

int Apply(Client& client, const std::string& source, const std::string& default_ns) {
  std::vector<Document> docs;
  if (!ReadDocuments(source, &docs)) return 1;
  int failures = 0;
  for (Document& doc : docs) {
    Target t;
    if (!TargetOf(doc, default_ns, &t)) {
      ++failures;
      continue;
    }
    json& o = doc.object;
    if (!o["metadata"].is_object()) o["metadata"] = json::object();  // the server says why
    o["metadata"]["namespace"] = t.ns;
    const std::string path = CollectionPath(t.version, *t.kind, t.ns);
    const std::string label = TypeLabel(*t.kind) + "/" + t.name;
    Response r = client.Call("POST", path, o.dump());
    if (r.status == 0) return 1;  // the server is down: the same for every document
    std::string verb = "created";
    if (r.status == 409 && TextField(r.body, "reason") == "AlreadyExists") {
      // Idempotent: update what is there, unless it already says the same.
      Response current = client.Get(path + "/" + t.name);
      if (current.status != 200) {
        failures += ServerError(current);
        continue;
      }
      if (SameContent(current.body, o)) {
        std::printf("%s unchanged\n", label.c_str());
        continue;
      }
      o["metadata"]["resourceVersion"] =
          TextField(Field(current.body, "metadata"), "resourceVersion");
      r = client.Call("PUT", path + "/" + t.name, o.dump());
      verb = "configured";
    }
    if (r.status != 200 && r.status != 201) {
      failures += ServerError(r);
      continue;
    }
    std::printf("%s %s\n", label.c_str(), verb.c_str());
  }
  return failures ? 1 : 0;
}

int Get(Client& client, const GetOptions& opt) {
  const control::KindInfo* kind = control::FindKindByAnyName(opt.kind);
  if (kind == nullptr) {
    std::fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
                 opt.kind.c_str());
    return 1;
  }
  std::string path = CollectionPath("v1", *kind, opt.all_namespaces ? "" : opt.ns);
  if (!opt.name.empty()) path += "/" + EscapePathSegment(opt.name);
  Response r = client.Get(path);
  if (r.status != 200) return ServerError(r);
  if (!r.body.is_object()) {
    std::fprintf(stderr, "error: the server answered with something that is not JSON\n");
    return 1;
  }
  std::vector<json> items = opt.name.empty() ? Items(r.body, "items").get<std::vector<json>>()
                                             : std::vector<json>{r.body};
  if (opt.output == "json" || opt.output == "yaml") {
    // A list prints as kubectl prints it: kind List of the objects.
    json out = opt.name.empty() ? json{{"apiVersion", "v1"},
                                       {"items", items},
                                       {"kind", "List"},
                                       {"metadata", {{"resourceVersion", ""}}}}
                                : r.body;
    if (opt.output == "json") {
      PrintJson(out);
    } else {
      PrintYaml(out);
    }
    return 0;
  }
  if (items.empty()) {
    if (opt.all_namespaces) {
      std::fprintf(stderr, "No resources found\n");
    } else {
      std::fprintf(stderr, "No resources found in %s namespace.\n", opt.ns.c_str());
    }
    return 0;
  }
  const bool wide = opt.output == "wide";
  std::vector<Column> columns;
  for (Column& c : ColumnsOf(kind->kind)) {
    if (wide || !c.wide_only) columns.push_back(std::move(c));
  }
  std::vector<std::string> headers;
  if (opt.all_namespaces) headers.emplace_back("NAMESPACE");
  headers.emplace_back("NAME");
  for (const Column& c : columns) headers.push_back(c.header);
  headers.emplace_back("AGE");
  Table table(std::move(headers));
  for (const json& item : items) {
    const json& m = Field(item, "metadata");
    std::vector<std::string> row;
    if (opt.all_namespaces) row.push_back(TextField(m, "namespace"));
    row.push_back(TextField(m, "name"));
    for (const Column& c : columns) row.push_back(Cell(c.value(item)));
    row.push_back(Age(TextField(m, "creationTimestamp")));
    table.AddRow(std::move(row));
  }
  table.Print();
  return 0;
}

int Delete(Client& client, const std::string& source, const std::vector<std::string>& args,
           const std::string& default_ns) {
  std::vector<Target> targets;
  if (!source.empty()) {
    std::vector<Document> docs;
    if (!ReadDocuments(source, &docs)) return 1;
    for (const Document& doc : docs) {
      Target t;
      if (!TargetOf(doc, default_ns, &t)) return 1;
      targets.push_back(t);
    }
  } else {
    if (args.empty()) {
      std::fprintf(stderr,
                   "error: You must provide one or more resources by argument or filename.\n");
      return 1;
    }
    const control::KindInfo* kind = control::FindKindByAnyName(args[0]);
    if (kind == nullptr) {
      std::fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
                   args[0].c_str());
      return 1;
    }
    if (args.size() < 2) {
      std::fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
      return 1;
    }
    for (size_t i = 1; i < args.size(); ++i) {
      targets.push_back(Target{kind, "v1", default_ns, args[i]});
    }
  }
  int failures = 0;
  for (const Target& t : targets) {
    Response r = client.Call(
        "DELETE", CollectionPath(t.version, *t.kind, t.ns) + "/" + EscapePathSegment(t.name));
    if (r.status == 0) return 1;
    if (r.status != 200) {
      failures += ServerError(r);
      continue;
    }
    std::printf("%s \"%s\" deleted\n", TypeLabel(*t.kind).c_str(), t.name.c_str());
  }
  return failures ? 1 : 0;
}

}  // namespace weft::ctl
