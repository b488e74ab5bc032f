#include "control/store/store.h"

namespace weft::control {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAdded:
      return "ADDED";
    case EventType::kModified:
      return "MODIFIED";
    case EventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

bool Selector::Matches(const ResourceKey& key) const {
  return key.kind == kind && (ns.empty() || key.ns == ns);
}

ResourceKey KeyOf(const nlohmann::json& object) {
  ResourceKey key;
  if (!object.is_object()) return key;
  if (auto k = object.find("kind"); k != object.end() && k->is_string()) key.kind = *k;
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    if (auto n = m->find("namespace"); n != m->end() && n->is_string()) key.ns = *n;
    if (auto n = m->find("name"); n != m->end() && n->is_string()) key.name = *n;
  }
  return key;
}

}  // namespace weft::control
