#include "control/model/validation.h"

#include "control/model/formats.h"
#include "control/model/istio_schemas.h"
#include "control/model/kinds.h"
#include "control/model/secret.h"

namespace weft::control {
namespace {

using nlohmann::json;

TypePtr MetadataSchema() {
  static const TypePtr schema = Object({
      {"name", String([](const json& v, const std::string& path, Errors& e) {
         if (!IsDns1123Subdomain(v.get<std::string>()))
           e.Invalid(path, "Invalid value: " + v.dump() +
                               ": a lowercase RFC 1123 subdomain must consist of lower case "
                               "alphanumeric characters, '-' or '.'");
       }),
       true},
      {"namespace", String([](const json& v, const std::string& path, Errors& e) {
         if (!IsDns1123Label(v.get<std::string>()))
           e.Invalid(path, "Invalid value: " + v.dump() + ": a lowercase RFC 1123 label");
       })},
      {"labels", StringMap()},
      {"annotations", StringMap()},
      // Server-set; a client may send back what it read (resourceVersion is the precondition).
      {"resourceVersion", String()},
      {"generation", Int(0)},
      {"uid", String()},
      {"creationTimestamp", String()},
  });
  return schema;
}

}  // namespace

std::vector<FieldError> ValidateResource(const json& object) {
  Errors errors;
  if (!object.is_object()) {
    errors.Invalid("", "the object must be a JSON object");
    return errors.list();
  }
  std::string kind =
      object.value("kind", json()).is_string() ? object["kind"].get<std::string>() : "";
  TypePtr spec = SpecSchema(kind);
  const KindInfo* kind_info = FindKindByName(kind);
  Check check_api_version = [kind_info](const json& v, const std::string& path, Errors& e) {
    const std::string& s = v.get_ref<const std::string&>();
    std::string_view got_group, got_version;
    SplitApiVersion(s, &got_group, &got_version);
    const std::string_view group = kind_info != nullptr ? kind_info->group : kIstioNetworkingGroup;
    if (got_group != group || (kind_info != nullptr ? !IsServedVersion(*kind_info, got_version)
                                                    : !IsServedVersion(got_version))) {
      const std::string g(group);
      e.Add(FieldError::Type::kNotSupported, path,
            "Unsupported value: " + v.dump() + ": supported values: " +
                (group == kCoreGroup ? std::string("\"v1\"")
                 : group == kIstioSecurityGroup
                     ? "\"" + g + "/v1beta1\", \"" + g + "/v1\""
                     : "\"" + g + "/v1alpha3\", \"" + g + "/v1beta1\", \"" + g + "/v1\""));
    }
  };
  Check check_kind = [](const json& v, const std::string& path, Errors& e) {
    if (!FindKindByName(v.get<std::string>())) {
      std::string kinds;
      for (const KindInfo& k : AllKinds())
        kinds += (kinds.empty() ? "\"" : ", \"") + std::string(k.kind) + "\"";
      e.Add(FieldError::Type::kNotSupported, path,
            "Unsupported value: " + v.dump() + ": supported values: " + kinds);
    }
  };
  if (kind == "Secret") {
    // Kubernetes' core Secret has no spec: type, data, stringData, immutable (model/secret.h).
    TypePtr secret = Object({
        {"apiVersion", String(check_api_version), true},
        {"kind", String(check_kind), true},
        {"metadata", MetadataSchema(), true},
        {"type", Free()},
        {"data", Free()},
        {"stringData", Free()},
        {"immutable", Free()},
    });
    ValidateValue(*secret, object, "", errors);
    if (errors.empty()) ValidateSecretBody(object, errors);
    return errors.list();
  }
  TypePtr resource = Object({
      {"apiVersion", String(check_api_version), true},
      {"kind", String(check_kind), true},
      {"metadata", MetadataSchema(), true},
      {"spec", spec ? spec : Free(), true},
      {"status", Free()},
  });
  ValidateValue(*resource, object, "", errors);
  return errors.list();
}

}  // namespace weft::control
