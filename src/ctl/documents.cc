#include "ctl/documents.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/yaml_json.h"
#include "ctl/json_fields.h"

namespace weft::ctl {

using nlohmann::json;

bool ReadDocuments(const std::string& source, std::vector<Document>* docs) {
  std::vector<std::pair<std::string, std::string>> texts;  // (file, content)
  auto read = [&texts](const std::string& path, std::istream& in) {
    std::stringstream ss;
    ss << in.rdbuf();
    texts.emplace_back(path, ss.str());
  };
  if (source == "-") {
    read("STDIN", std::cin);
  } else if (std::filesystem::is_directory(source)) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(source)) {
      std::string ext = e.path().extension();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f);
      read(f.string(), in);
    }
  } else {
    std::ifstream in(source);
    if (!in) {
      std::fprintf(stderr, "error: the path \"%s\" does not exist\n", source.c_str());
      return false;
    }
    read(source, in);
  }
  for (const auto& [file, text] : texts) {
    auto parsed = weft::yaml::DocumentsToJson(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "error: error parsing %s: %s\n", file.c_str(),
                   std::string(parsed.status().message()).c_str());
      return false;
    }
    for (json& doc : *parsed) {
      // A kubectl "List" document carries its objects in items.
      if (TextField(doc, "kind") == "List" && Field(doc, "items").is_array()) {
        for (json& item : doc["items"]) docs->push_back(Document{std::move(item), file});
      } else {
        docs->push_back(Document{std::move(doc), file});
      }
    }
  }
  return true;
}

bool TargetOf(const Document& doc, const std::string& default_ns, Target* t) {
  const json& o = doc.object;
  const std::string kind = TextField(o, "kind");
  const std::string api_version = TextField(o, "apiVersion");
  const json& meta = Field(o, "metadata");
  t->name = TextField(meta, "name");
  t->ns = TextField(meta, "namespace", default_ns);
  t->kind = control::FindKindByName(kind);
  std::string_view group, version;
  control::SplitApiVersion(api_version, &group, &version);
  if (t->kind == nullptr || api_version.empty() || group != t->kind->group ||
      !control::IsServedVersion(*t->kind, version)) {
    // kubectl's wording when no CRD serves the kind.
    std::fprintf(stderr,
                 "error: resource mapping not found for name: \"%s\" namespace: \"%s\" from "
                 "\"%s\": no matches for kind \"%s\" in version \"%s\"\nensure CRDs are installed "
                 "first\n",
                 t->name.c_str(), TextField(meta, "namespace").c_str(), doc.source.c_str(),
                 kind.c_str(), api_version.c_str());
    return false;
  }
  t->version = std::string(version);
  return true;
}

std::string CollectionPath(const std::string& version, const control::KindInfo& kind,
                           const std::string& ns) {
  std::string base = control::ApiPathPrefix(kind, version) + "/";
  if (!ns.empty()) base += "namespaces/" + ns + "/";
  return base + std::string(kind.plural);
}

std::string TypeLabel(const control::KindInfo& kind) {
  return control::ResourceGroupName(kind, kind.singular);
}

}  // namespace weft::ctl
