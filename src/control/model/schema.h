// A small declarative schema for Kubernetes-shaped JSON, and the walker that checks an object
// against it: every key must be a declared field (else "unknown field" with its path), every
// value of its declared type, enums among their names, at most one field of each oneof, required
// fields present, then a kind's own rules (`check`) on the typed value. Errors carry the
// Kubernetes field path ("spec.http[0].route[1].weight") and the Kubernetes cause type, so the
// API can answer 422 Invalid with every bad field at once. Null means "unset", as in protobuf JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::control {

struct FieldError {
  // Kubernetes' metav1.CauseType values.
  enum class Type { kRequired, kInvalid, kNotSupported, kDuplicate, kUnknown };
  Type type;
  std::string field;    // "spec.hosts[0]"
  std::string message;  // without the path
};
std::string_view CauseTypeName(FieldError::Type type);  // "FieldValueRequired", ...
// "spec.hosts[0]: Invalid value: \"a b\": not a valid host name"
std::string FormatFieldError(const FieldError& error);

class Errors {
 public:
  void Add(FieldError::Type type, std::string field, std::string message) {
    list_.push_back(FieldError{type, std::move(field), std::move(message)});
  }
  void Required(std::string field, std::string message = "Required value") {
    Add(FieldError::Type::kRequired, std::move(field), std::move(message));
  }
  void Invalid(std::string field, std::string message) {
    Add(FieldError::Type::kInvalid, std::move(field), std::move(message));
  }
  const std::vector<FieldError>& list() const { return list_; }
  bool empty() const { return list_.empty(); }

 private:
  std::vector<FieldError> list_;
};

struct Type;
using TypePtr = std::shared_ptr<const Type>;
// A rule beyond types, run on a value whose type checked out.
using Check = std::function<void(const nlohmann::json& value, const std::string& path, Errors&)>;

struct FieldDef {
  std::string name;
  TypePtr type;
  bool required = false;
};

struct Type {
  enum class Kind { kString, kBool, kInt, kNumber, kObject, kList, kMap, kFree };
  Kind kind = Kind::kFree;
  std::vector<FieldDef> fields;                  // kObject
  std::vector<std::vector<std::string>> oneofs;  // kObject: at most one of each group
  TypePtr element;                               // kList elements, kMap values
  std::optional<double> min, max;                // kInt, kNumber
  std::vector<std::string> enum_values;          // kString: the allowed names, if any
  Check check;
};

// Builders, so a kind's schema reads like its proto.
TypePtr String(Check check = nullptr);
TypePtr Enum(std::vector<std::string> values);
TypePtr Bool();
TypePtr Int(std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
TypePtr Number(std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);
TypePtr Object(std::vector<FieldDef> fields, Check check = nullptr,
               std::vector<std::vector<std::string>> oneofs = {});
TypePtr List(TypePtr element, Check check = nullptr);
TypePtr Map(TypePtr value);
TypePtr StringMap();
TypePtr Free();  // any JSON (status, Struct-like values)

void ValidateValue(const Type& type, const nlohmann::json& value, const std::string& path,
                   Errors& errors);

// "a.b" / "a[3]" / "a[key]".
inline std::string Child(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}
inline std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

}  // namespace weft::control
