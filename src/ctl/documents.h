// Reading manifests the way `kubectl apply -f` does: a file, every *.yaml/*.yml/*.json of a
// directory (sorted), or stdin ("-"); multi-document YAML and kubectl "List" documents.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/model/kinds.h"

namespace weft::ctl {

// One document with where it came from (kubectl names the file in its errors).
struct Document {
  nlohmann::json object;
  std::string source;
};

bool ReadDocuments(const std::string& source, std::vector<Document>* docs);

// The API object a document names.
struct Target {
  const control::KindInfo* kind = nullptr;
  std::string version, ns, name;
};

// Prints kubectl's "resource mapping not found" error and returns false for a kind or group
// weftd does not serve.
bool TargetOf(const Document& doc, const std::string& default_ns, Target* target);

// "/apis/networking.istio.io/<version>/[namespaces/<ns>/]<plural>" ("/api/v1/..." for Secret).
std::string CollectionPath(const std::string& version, const control::KindInfo& kind,
                           const std::string& ns);

// "virtualservice.networking.istio.io", as kubectl prints an object's type.
std::string TypeLabel(const control::KindInfo& kind);

}  // namespace weft::ctl
