#include "control/model/schema.h"

#include <algorithm>
#include <cmath>

namespace weft::control {

using nlohmann::json;

std::string_view CauseTypeName(FieldError::Type type) {
  switch (type) {
    case FieldError::Type::kRequired:
      return "FieldValueRequired";
    case FieldError::Type::kInvalid:
      return "FieldValueInvalid";
    case FieldError::Type::kNotSupported:
      return "FieldValueNotSupported";
    case FieldError::Type::kDuplicate:
      return "FieldValueDuplicate";
    case FieldError::Type::kUnknown:
      // Kubernetes has no cause type of its own for an unknown field (strict decoding reports
      // it as invalid); the message says "unknown field".
      return "FieldValueInvalid";
  }
  return "FieldValueInvalid";
}

std::string FormatFieldError(const FieldError& e) {
  return e.field.empty() ? e.message : e.field + ": " + e.message;
}

namespace {

TypePtr Make(Type t) { return std::make_shared<const Type>(std::move(t)); }

std::string Quote(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

bool IsEmpty(const json& v) {
  return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
         (v.is_array() && v.empty()) || (v.is_object() && v.empty());
}

void CheckRange(const Type& t, double d, const json& value, const std::string& path,
                Errors& errors) {
  if ((t.min && d < *t.min) || (t.max && d > *t.max)) {
    std::string range = t.max ? "between " + json(*t.min).dump() + " and " + json(*t.max).dump()
                              : "greater than or equal to " + json(*t.min).dump();
    errors.Invalid(path, "Invalid value: " + Quote(value) + ": must be " + range);
  }
}

}  // namespace

TypePtr String(Check check) {
  Type t;
  t.kind = Type::Kind::kString;
  t.check = std::move(check);
  return Make(std::move(t));
}
TypePtr Enum(std::vector<std::string> values) {
  Type t;
  t.kind = Type::Kind::kString;
  t.enum_values = std::move(values);
  return Make(std::move(t));
}
TypePtr Bool() {
  Type t;
  t.kind = Type::Kind::kBool;
  return Make(std::move(t));
}
TypePtr Int(std::optional<double> min, std::optional<double> max) {
  Type t;
  t.kind = Type::Kind::kInt;
  t.min = min;
  t.max = max;
  return Make(std::move(t));
}
TypePtr Number(std::optional<double> min, std::optional<double> max) {
  Type t;
  t.kind = Type::Kind::kNumber;
  t.min = min;
  t.max = max;
  return Make(std::move(t));
}
TypePtr Object(std::vector<FieldDef> fields, Check check,
               std::vector<std::vector<std::string>> oneofs) {
  Type t;
  t.kind = Type::Kind::kObject;
  t.fields = std::move(fields);
  t.check = std::move(check);
  t.oneofs = std::move(oneofs);
  return Make(std::move(t));
}
TypePtr List(TypePtr element, Check check) {
  Type t;
  t.kind = Type::Kind::kList;
  t.element = std::move(element);
  t.check = std::move(check);
  return Make(std::move(t));
}
TypePtr Map(TypePtr value) {
  Type t;
  t.kind = Type::Kind::kMap;
  t.element = std::move(value);
  return Make(std::move(t));
}
TypePtr StringMap() {
  static const TypePtr t = Map(String());
  return t;
}
TypePtr Free() {
  static const TypePtr t = Make(Type{});
  return t;
}

void ValidateValue(const Type& t, const json& value, const std::string& path, Errors& errors) {
  if (value.is_null()) return;
  auto wrong_type = [&](std::string_view want) {
    errors.Invalid(path, "Invalid value: " + Quote(value) + ": must be " + std::string(want));
  };
  switch (t.kind) {
    case Type::Kind::kFree:
      break;
    case Type::Kind::kString:
      if (!value.is_string()) return wrong_type("a string");
      if (!t.enum_values.empty() &&
          std::find(t.enum_values.begin(), t.enum_values.end(),
                    value.get_ref<const std::string&>()) == t.enum_values.end()) {
        std::string allowed;
        for (const auto& v : t.enum_values) allowed += (allowed.empty() ? "\"" : ", \"") + v + "\"";
        errors.Add(FieldError::Type::kNotSupported, path,
                   "Unsupported value: " + Quote(value) + ": supported values: " + allowed);
        return;
      }
      break;
    case Type::Kind::kBool:
      if (!value.is_boolean()) return wrong_type("a boolean");
      break;
    case Type::Kind::kInt: {
      // 100.0 is accepted where an integer is meant, as protobuf's JSON parser accepts it.
      if (!value.is_number() || std::trunc(value.get<double>()) != value.get<double>()) {
        return wrong_type("an integer");
      }
      CheckRange(t, value.get<double>(), value, path, errors);
      break;
    }
    case Type::Kind::kNumber:
      if (!value.is_number()) return wrong_type("a number");
      CheckRange(t, value.get<double>(), value, path, errors);
      break;
    case Type::Kind::kObject: {
      if (!value.is_object()) return wrong_type("an object");
      for (const auto& item : value.items()) {
        const std::string& key = item.key();
        const json& child = item.value();
        auto f = std::find_if(t.fields.begin(), t.fields.end(),
                              [&key](const FieldDef& d) { return d.name == key; });
        if (f == t.fields.end()) {
          errors.Add(FieldError::Type::kUnknown, Child(path, key), "unknown field");
          continue;
        }
        ValidateValue(*f->type, child, Child(path, key), errors);
      }
      for (const FieldDef& f : t.fields) {
        if (f.required && IsEmpty(value.contains(f.name) ? value[f.name] : json()))
          errors.Required(Child(path, f.name));
      }
      for (const auto& group : t.oneofs) {
        std::vector<std::string> set;
        for (const auto& name : group)
          if (value.contains(name) && !value[name].is_null()) set.push_back(name);
        if (set.size() > 1) {
          std::string names;
          for (const auto& n : group) names += (names.empty() ? "" : ", ") + n;
          errors.Invalid(Child(path, set[1]), "Invalid value: only one of " + names +
                                                  " may be set (" + set[0] + " is set)");
        }
      }
      break;
    }
    case Type::Kind::kList:
      if (!value.is_array()) return wrong_type("a list");
      for (size_t i = 0; i < value.size(); ++i)
        ValidateValue(*t.element, value[i], Index(path, i), errors);
      break;
    case Type::Kind::kMap:
      if (!value.is_object()) return wrong_type("an object");
      for (const auto& [key, child] : value.items())
        ValidateValue(*t.element, child, path + "[" + key + "]", errors);
      break;
  }
  if (t.check) t.check(value, path, errors);
}

}  // namespace weft::control
