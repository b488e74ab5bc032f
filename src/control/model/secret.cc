#include "control/model/secret.h"

#include <openssl/x509.h>

#include "absl/strings/escaping.h"
#include "security/openssl_util.h"

namespace weft::control {
namespace {

using nlohmann::json;

struct KeyNames {
  const char* cert;
  const char* key;
  const char* ca;
};
// Istio's key names per type (pilot/pkg/credentials/kube/secrets.go).
constexpr KeyNames kTlsKeys{"tls.crt", "tls.key", "ca.crt"};
constexpr KeyNames kOpaqueKeys{"cert", "key", "cacert"};

std::string TypeOf(const json& object) {
  auto it = object.find("type");
  return it != object.end() && it->is_string() ? it->get<std::string>() : kSecretTypeOpaque;
}

const KeyNames* KeysOf(const std::string& type) {
  if (type == kSecretTypeTls) return &kTlsKeys;
  if (type == kSecretTypeOpaque) return &kOpaqueKeys;
  return nullptr;
}

std::string Path(const char* map, const std::string& key) {
  return std::string(map) + "[" + key + "]";
}

// The decoded value of `key` from data (base64) or stringData (text); stringData wins, as it
// does on a Kubernetes write. nullopt when absent; an error for bad base64.
std::optional<std::string> Value(const json& object, const std::string& key, Errors* errors) {
  if (auto sd = object.find("stringData"); sd != object.end() && sd->is_object()) {
    if (auto v = sd->find(key); v != sd->end() && v->is_string()) return v->get<std::string>();
  }
  auto data = object.find("data");
  if (data == object.end() || !data->is_object()) return std::nullopt;
  auto v = data->find(key);
  if (v == data->end() || !v->is_string()) return std::nullopt;
  std::string decoded;
  // Kubernetes' []byte fields are standard base64 with padding (encoding/json).
  if (!absl::Base64Unescape(v->get<std::string>(), &decoded)) {
    if (errors != nullptr) {
      errors->Invalid(Path("data", key), "Invalid value: illegal base64 data");
    }
    return std::nullopt;
  }
  return decoded;
}

// Where a key's value came from, for error paths.
std::string SourcePath(const json& object, const std::string& key) {
  if (auto sd = object.find("stringData");
      sd != object.end() && sd->is_object() && sd->contains(key))
    return Path("stringData", key);
  return Path("data", key);
}

TypePtr SecretSchema() {
  static const TypePtr schema = Object({
      {"type", String()},
      {"data", StringMap()},
      {"stringData", StringMap()},
      {"immutable", Bool()},
  });
  return schema;
}

}  // namespace

void ValidateSecretBody(const json& object, Errors& errors) {
  json body = json::object();
  for (const char* field : {"type", "data", "stringData", "immutable"}) {
    if (object.contains(field)) body[field] = object[field];
  }
  ValidateValue(*SecretSchema(), body, "", errors);
  if (!errors.empty()) return;
  const std::string type = TypeOf(object);
  const KeyNames* keys = KeysOf(type);
  if (keys == nullptr) {
    // Only the two types that carry TLS credentials are stored: weftd has no other use for a
    // Secret, and a store of arbitrary secrets is not what it is for.
    errors.Add(FieldError::Type::kNotSupported, "type",
               "Unsupported value: " + json(type).dump() + ": supported values: \"" +
                   kSecretTypeTls + "\", \"" + kSecretTypeOpaque + "\"");
    return;
  }
  // Every data value must be base64, TLS key or not.
  if (auto data = object.find("data"); data != object.end() && data->is_object()) {
    for (const auto& [key, value] : data->items()) (void)Value(object, key, &errors);
  }
  if (!errors.empty()) return;
  const std::optional<std::string> cert = Value(object, keys->cert, nullptr);
  const std::optional<std::string> key = Value(object, keys->key, nullptr);
  const std::optional<std::string> ca = Value(object, keys->ca, nullptr);
  if (type == kSecretTypeTls) {
    // Kubernetes requires both keys of a kubernetes.io/tls Secret.
    if (!cert) errors.Required(Path("data", keys->cert));
    if (!key) errors.Required(Path("data", keys->key));
  } else if (cert.has_value() != key.has_value()) {
    errors.Required(
        Path("data", cert ? keys->key : keys->cert),
        std::string("Required value: ") + keys->cert + " and " + keys->key + " go together");
  }
  security::X509Ptr leaf;
  if (cert) {
    auto chain = security::ParseCertificates(*cert);
    if (!chain.ok()) {
      errors.Invalid(SourcePath(object, keys->cert), "Invalid value: not a PEM certificate chain");
    } else {
      leaf = std::move(chain->front());
    }
  }
  security::PkeyPtr pkey;
  if (key) {
    auto parsed = security::ParsePrivateKey(*key);
    if (!parsed.ok()) {
      errors.Invalid(SourcePath(object, keys->key), "Invalid value: not a PEM private key");
    } else {
      pkey = std::move(*parsed);
    }
  }
  if (leaf && pkey && X509_check_private_key(leaf.get(), pkey.get()) != 1) {
    (void)security::OpenSslError();  // clear the queue; its text could quote nothing useful
    errors.Invalid(SourcePath(object, keys->key),
                   std::string("Invalid value: the private key does not match the certificate "
                               "of ") +
                       keys->cert);
  }
  if (ca && !security::ParseCertificates(*ca).ok()) {
    errors.Invalid(SourcePath(object, keys->ca), "Invalid value: not a PEM certificate bundle");
  }
  if (type == kSecretTypeOpaque && !cert && !ca) {
    errors.Required("data", std::string("Required value: a credential needs ") + keys->cert + "+" +
                                keys->key + " or " + keys->ca);
  }
}

void ValidateSecretUpdate(const json& stored, const json& updated, Errors& errors) {
  if (stored.value("immutable", json(false)) != json(true)) return;
  for (const char* field : {"data", "type", "immutable"}) {
    if (stored.value(field, json()) != updated.value(field, json())) {
      // Kubernetes' wording (core/v1 validation, ValidateSecretUpdate).
      errors.Invalid(field, "Forbidden: field is immutable when `immutable` is set");
      return;
    }
  }
}

void FoldStringData(json& object) {
  auto sd = object.find("stringData");
  if (sd == object.end()) return;
  if (sd->is_object()) {
    json& data = object["data"];
    if (!data.is_object()) data = json::object();
    for (const auto& [key, value] : sd->items()) {
      if (value.is_string()) data[key] = absl::Base64Escape(value.get<std::string>());
    }
  }
  object.erase("stringData");
}

std::optional<TlsCredential> TlsCredentialOf(const json& object) {
  const KeyNames* keys = KeysOf(TypeOf(object));
  if (keys == nullptr) return std::nullopt;
  TlsCredential out;
  out.cert_chain_pem = Value(object, keys->cert, nullptr).value_or("");
  out.private_key_pem = Value(object, keys->key, nullptr).value_or("");
  out.ca_pem = Value(object, keys->ca, nullptr).value_or("");
  if (out.cert_chain_pem.empty() && out.ca_pem.empty()) return std::nullopt;
  return out;
}

}  // namespace weft::control
