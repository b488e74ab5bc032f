#include "proxy/config/yaml_to_json.h"

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/yaml_json.h"
#include "proxy/config/known_extensions.h"
#include "proxy/config/text.h"

namespace weft::config {
namespace {

namespace pb = google::protobuf;
using nlohmann::json;

bool IsWellKnown(const pb::Descriptor* d, std::string_view name) {
  return d != nullptr && d->full_name() == name;
}

bool IsWrapper(const pb::Descriptor* d) {
  return d->file()->name() == "google/protobuf/wrappers.proto";
}

class Converter {
 public:
  absl::Status status;

  json Message(const YAML::Node& node, const pb::Descriptor* desc, const std::string& path) {
    if (desc == nullptr || IsWellKnown(desc, "google.protobuf.Struct") ||
        IsWellKnown(desc, "google.protobuf.Value") ||
        IsWellKnown(desc, "google.protobuf.ListValue")) {
      return Untyped(node);
    }
    if (IsWrapper(desc)) return Element(node, desc->FindFieldByName("value"), path);
    if (!node.IsMap()) return Untyped(node);  // Duration, Timestamp, FieldMask: strings

    const bool is_any = IsWellKnown(desc, "google.protobuf.Any");
    const pb::Descriptor* fields_of = desc;
    if (is_any) {
      fields_of = nullptr;
      if (const YAML::Node type = node["@type"]; type && type.IsScalar()) {
        const std::string_view name = TypeNameFromUrl(type.Scalar());
        fields_of = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string(name));
        if (fields_of == nullptr && status.ok()) {
          status = absl::InvalidArgumentError(Cat(path, ": unsupported extension '", name, "'"));
        }
      }
      // Well-known types inside an Any carry their JSON form under "value".
      if (fields_of != nullptr && fields_of->file()->package() == "google.protobuf") {
        json out = json::object();
        for (const auto& kv : node) {
          const std::string key = kv.first.Scalar();
          out[key] = key == "value" ? Message(kv.second, fields_of, path) : Untyped(kv.second);
        }
        return out;
      }
    }

    json out = json::object();
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (is_any && key == "@type") {
        out[key] = kv.second.IsScalar() ? json(kv.second.Scalar()) : Untyped(kv.second);
        continue;
      }
      const pb::FieldDescriptor* field = fields_of ? FindField(fields_of, key) : nullptr;
      const std::string child_path = path.empty() ? key : Cat(path, ".", key);
      // Refused here rather than by protobuf's parser, whose message loses the path inside Any.
      if (fields_of != nullptr && field == nullptr && status.ok()) {
        status = absl::InvalidArgumentError(Cat(child_path, ": unknown field"));
      }
      out[key] = field ? Field(kv.second, field, child_path) : Untyped(kv.second);
    }
    return out;
  }

 private:
  static const pb::FieldDescriptor* FindField(const pb::Descriptor* desc, std::string_view key) {
    for (int i = 0; i < desc->field_count(); ++i) {
      const pb::FieldDescriptor* f = desc->field(i);
      if (f->name() == key || f->json_name() == key) return f;
    }
    return nullptr;
  }

  json Field(const YAML::Node& node, const pb::FieldDescriptor* field, const std::string& path) {
    if (field->is_map() && node.IsMap()) {
      const pb::FieldDescriptor* value = field->message_type()->map_value();
      json out = json::object();
      for (const auto& kv : node) {
        const std::string key = kv.first.Scalar();
        out[key] = Element(kv.second, value, Cat(path, "[", key, "]"));
      }
      return out;
    }
    if (field->is_repeated() && node.IsSequence()) {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i) {
        out.push_back(Element(node[i], field, Cat(path, "[", i, "]")));
      }
      return out;
    }
    return Element(node, field, path);
  }

  json Element(const YAML::Node& node, const pb::FieldDescriptor* field, const std::string& path) {
    if (node.IsNull()) return nullptr;
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return Message(node, field->message_type(), path);
    }
    if (!node.IsScalar()) return Untyped(node);
    const std::string& text = node.Scalar();
    switch (field->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        return text;
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool b;
        return yaml::ParseBool(text, &b) ? json(b) : json(text);
      }
      default: {  // numbers and enums (enums by name, or by number)
        json number;
        if (yaml::ParseNumber(text, &number)) return number;
        return text;
      }
    }
  }

  // YAML 1.2 core schema, for values no field types (Struct, unknown keys).
  static json Untyped(const YAML::Node& node) { return yaml::NodeToJson(node); }
};

}  // namespace

absl::StatusOr<std::string> YamlToJson(std::string_view yaml, const pb::Descriptor& root) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Cat("invalid YAML: ", e.what()));
  }
  if (!doc.IsMap()) {
    return absl::InvalidArgumentError("invalid config: the document must be a mapping");
  }
  Converter converter;
  json out;
  try {
    out = converter.Message(doc, &root, "");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Cat("invalid YAML: ", e.what()));
  }
  if (!converter.status.ok()) return converter.status;
  return out.dump();
}

}  // namespace weft::config
