// weftctl: kubectl-shaped command line for weftd's resource API.
//   weftctl apply -f FILE|DIR|-          create or update every document (idempotent)
//   weftctl get KIND [NAME] [-n NS] [-A] [-o yaml|json]
//   weftctl delete -f FILE|DIR|- | KIND NAME [-n NS]
// Server from --server, else $WEFT_SERVER, else http://127.0.0.1:15080. Plain blocking HTTP/1.1
// over a socket: one request per connection, no dependency beyond the standard library.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/yaml_json.h"
#include "control/model/kinds.h"

namespace {

using nlohmann::json;
using weft::control::KindInfo;

struct Response {
  int status = 0;
  json body;
};

class Client {
 public:
  explicit Client(std::string server) {
    if (server.rfind("http://", 0) == 0) server = server.substr(7);
    while (!server.empty() && server.back() == '/') server.pop_back();
    size_t colon = server.rfind(':');
    host_ = colon == std::string::npos ? server : server.substr(0, colon);
    port_ = colon == std::string::npos ? "80" : server.substr(colon + 1);
  }

  // Returns status 0 (and prints why) when the server cannot be reached.
  Response Call(const std::string& method, const std::string& path, const std::string& body = "") {
    Response r;
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0 || res == nullptr) {
      std::fprintf(stderr, "error: cannot resolve %s\n", host_.c_str());
      return r;
    }
    int fd = socket(res->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
      std::fprintf(stderr, "The connection to the server %s:%s was refused - is weftd running?\n",
                   host_.c_str(), port_.c_str());
      freeaddrinfo(res);
      if (fd >= 0) close(fd);
      return r;
    }
    freeaddrinfo(res);
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host_ +
                          "\r\nConnection: close\r\nAccept: application/json\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
    }
    request += "\r\n" + body;
    for (size_t off = 0; off < request.size();) {
      ssize_t n = write(fd, request.data() + off, request.size() - off);
      if (n <= 0) break;
      off += n;
    }
    std::string raw;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, n);
    close(fd);
    size_t head_end = raw.find("\r\n\r\n");
    if (raw.size() < 12 || head_end == std::string::npos) {
      std::fprintf(stderr, "error: the server closed the connection without an answer\n");
      return r;
    }
    r.status = std::atoi(raw.c_str() + 9);
    std::string headers = raw.substr(0, head_end);
    std::string payload = raw.substr(head_end + 4);
    for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (headers.find("transfer-encoding: chunked") != std::string::npos) {
      std::string decoded;
      size_t pos = 0;
      while (pos < payload.size()) {
        size_t eol = payload.find("\r\n", pos);
        size_t size = std::strtoul(payload.c_str() + pos, nullptr, 16);
        if (eol == std::string::npos || size == 0) break;
        decoded += payload.substr(eol + 2, size);
        pos = eol + 2 + size + 2;
      }
      payload = decoded;
    }
    r.body = json::parse(payload, nullptr, false);
    return r;
  }

 private:
  std::string host_, port_;
};

std::string CollectionPath(const std::string& version, const KindInfo& kind,
                           const std::string& ns) {
  std::string base = "/apis/networking.istio.io/" + version + "/";
  if (!ns.empty()) base += "namespaces/" + ns + "/";
  return base + std::string(kind.plural);
}

// kubectl's error line: "Error from server (Reason): message".
int ServerError(const Response& r) {
  if (r.status == 0) return 1;
  std::string reason = r.body.is_object() ? r.body.value("reason", "") : "";
  std::string message = r.body.is_object() ? r.body.value("message", "") : "";
  std::fprintf(stderr, "Error from server (%s): %s\n", reason.c_str(), message.c_str());
  return 1;
}

// Reads FILE, every *.yaml/*.yml/*.json of DIR (sorted), or stdin ("-").
bool ReadDocuments(const std::string& source, std::vector<json>* docs) {
  std::vector<std::string> texts;
  if (source == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    texts.push_back(ss.str());
  } else if (std::filesystem::is_directory(source)) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(source)) {
      std::string ext = e.path().extension();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream ss;
      ss << in.rdbuf();
      texts.push_back(ss.str());
    }
  } else {
    std::ifstream in(source);
    if (!in) {
      std::fprintf(stderr, "error: the path \"%s\" does not exist\n", source.c_str());
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
  }
  for (const std::string& text : texts) {
    auto parsed = weft::yaml::DocumentsToJson(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", source.c_str(),
                   std::string(parsed.status().message()).c_str());
      return false;
    }
    for (json& doc : *parsed) {
      // A kubectl "List" document carries its objects in items.
      if (doc.is_object() && doc.value("kind", "") == "List" && doc.contains("items")) {
        for (json& item : doc["items"]) docs->push_back(std::move(item));
      } else {
        docs->push_back(std::move(doc));
      }
    }
  }
  return true;
}

struct Target {
  const KindInfo* kind;
  std::string version, ns, name;
};

bool TargetOf(const json& doc, const std::string& default_ns, Target* t) {
  std::string api_version = doc.value("apiVersion", "");
  t->kind = weft::control::FindKindByName(doc.value("kind", ""));
  size_t slash = api_version.find('/');
  if (t->kind == nullptr || slash == std::string::npos ||
      api_version.substr(0, slash) != weft::control::kIstioNetworkingGroup) {
    std::fprintf(stderr, "error: resource mapping not found for kind \"%s\" in version \"%s\"\n",
                 doc.value("kind", "").c_str(), api_version.c_str());
    return false;
  }
  t->version = api_version.substr(slash + 1);
  const json& meta = doc.value("metadata", json::object());
  t->name = meta.is_object() ? meta.value("name", "") : "";
  t->ns = meta.is_object() && meta.contains("namespace") ? meta.value("namespace", default_ns)
                                                         : default_ns;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int Apply(Client& client, const std::string& source, const std::string& default_ns) {
  std::vector<json> docs;
  if (!ReadDocuments(source, &docs)) return 1;
  int failures = 0;
  for (json& doc : docs) {
    Target t;
    if (!TargetOf(doc, default_ns, &t)) {
      ++failures;
      continue;
    }
    doc["metadata"]["namespace"] = t.ns;
    const std::string path = CollectionPath(t.version, *t.kind, t.ns);
    const std::string label = Lower(t.kind->kind) + ".networking.istio.io/" + t.name;
    Response r = client.Call("POST", path, doc.dump());
    std::string verb = "created";
    if (r.status == 409 && r.body.is_object() && r.body.value("reason", "") == "AlreadyExists") {
      // Idempotent: update what is there, unless it already says the same.
      Response current = client.Call("GET", path + "/" + t.name);
      if (current.status != 200) {
        failures += ServerError(current);
        continue;
      }
      const json& cm = current.body["metadata"];
      if (current.body.value("spec", json()) == doc.value("spec", json()) &&
          cm.value("labels", json()) == doc["metadata"].value("labels", json()) &&
          cm.value("annotations", json()) == doc["metadata"].value("annotations", json())) {
        std::printf("%s unchanged\n", label.c_str());
        continue;
      }
      doc["metadata"]["resourceVersion"] = cm.value("resourceVersion", "");
      r = client.Call("PUT", path + "/" + t.name, doc.dump());
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

std::string Age(const std::string& timestamp) {
  std::tm tm{};
  if (strptime(timestamp.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return "<unknown>";
  long secs = static_cast<long>(std::time(nullptr) - timegm(&tm));
  if (secs < 120) return std::to_string(std::max(0L, secs)) + "s";
  if (secs < 7200) return std::to_string(secs / 60) + "m";
  if (secs < 172800) return std::to_string(secs / 3600) + "h";
  return std::to_string(secs / 86400) + "d";
}

void PrintYaml(const json& value) {
  // JSON is YAML; yaml-cpp re-emits it in block style for reading.
  YAML::Emitter out;
  out << YAML::Load(value.dump());
  std::printf("%s\n", out.c_str());
}

int Get(Client& client, const std::string& kind_name, const std::string& name,
        const std::string& ns, bool all_namespaces, const std::string& output) {
  const KindInfo* kind = weft::control::FindKindByAnyName(kind_name);
  if (kind == nullptr) {
    std::fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
                 kind_name.c_str());
    return 1;
  }
  std::string path = CollectionPath("v1", *kind, all_namespaces ? "" : ns);
  if (!name.empty()) path += "/" + name;
  Response r = client.Call("GET", path);
  if (r.status != 200) return ServerError(r);
  if (output == "json") {
    std::printf("%s\n", r.body.dump(2).c_str());
    return 0;
  }
  if (output == "yaml") {
    PrintYaml(r.body);
    return 0;
  }
  std::vector<json> items =
      name.empty() ? r.body["items"].get<std::vector<json>>() : std::vector<json>{r.body};
  if (items.empty()) {
    std::fprintf(stderr, "No resources found in %s namespace.\n", ns.c_str());
    return 0;
  }
  if (all_namespaces) std::printf("%-20s ", "NAMESPACE");
  std::printf("%-32s %s\n", "NAME", "AGE");
  for (const json& item : items) {
    const json& m = item["metadata"];
    if (all_namespaces) std::printf("%-20s ", m.value("namespace", "").c_str());
    std::printf("%-32s %s\n", m.value("name", "").c_str(),
                Age(m.value("creationTimestamp", "")).c_str());
  }
  return 0;
}

int Delete(Client& client, const std::string& source, const std::vector<std::string>& args,
           const std::string& default_ns) {
  std::vector<Target> targets;
  if (!source.empty()) {
    std::vector<json> docs;
    if (!ReadDocuments(source, &docs)) return 1;
    for (const json& doc : docs) {
      Target t;
      if (!TargetOf(doc, default_ns, &t)) return 1;
      targets.push_back(t);
    }
  } else {
    if (args.size() != 2) {
      std::fprintf(stderr, "error: give -f FILE or KIND NAME\n");
      return 1;
    }
    const KindInfo* kind = weft::control::FindKindByAnyName(args[0]);
    if (kind == nullptr) {
      std::fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
                   args[0].c_str());
      return 1;
    }
    targets.push_back(Target{kind, "v1", default_ns, args[1]});
  }
  int failures = 0;
  for (const Target& t : targets) {
    Response r = client.Call("DELETE", CollectionPath(t.version, *t.kind, t.ns) + "/" + t.name);
    if (r.status != 200) {
      failures += ServerError(r);
      continue;
    }
    std::printf("%s.networking.istio.io \"%s\" deleted\n", Lower(t.kind->kind).c_str(),
                t.name.c_str());
  }
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weftctl: controls the Weft service mesh (weftd's API)"};
  app.require_subcommand(1);
  const char* env = std::getenv("WEFT_SERVER");
  std::string server = env && *env ? env : "http://127.0.0.1:15080";
  std::string ns = "default";
  app.add_option("--server,-s", server, "weftd's API address (default $WEFT_SERVER)");
  app.add_option("--namespace,-n", ns, "the namespace (default \"default\")");

  std::string apply_file;
  CLI::App* apply = app.add_subcommand("apply", "create or update resources from files");
  apply->add_option("-f,--filename", apply_file, "FILE, DIR or - (stdin)")->required();

  std::string kind, name, output;
  bool all_namespaces = false;
  CLI::App* get = app.add_subcommand("get", "show resources");
  get->add_option("KIND", kind, "kind (virtualservice, vs, destinationrules, ...)")->required();
  get->add_option("NAME", name, "one resource");
  get->add_option("-o,--output", output, "yaml or json")->check(CLI::IsMember({"yaml", "json"}));
  get->add_flag("-A,--all-namespaces", all_namespaces, "every namespace");

  std::string delete_file;
  std::vector<std::string> delete_args;
  CLI::App* del = app.add_subcommand("delete", "delete resources");
  del->add_option("-f,--filename", delete_file, "FILE, DIR or - (stdin)");
  del->add_option("KIND_NAME", delete_args, "KIND NAME");

  CLI11_PARSE(app, argc, argv);
  Client client(server);
  if (*apply) return Apply(client, apply_file, ns);
  if (*get) return Get(client, kind, name, ns, all_namespaces, output);
  if (*del) return Delete(client, delete_file, delete_args, ns);
  return 1;
}
