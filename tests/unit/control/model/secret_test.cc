// Kubernetes core v1 Secret validation (model/secret.h): the shapes Istio's credentialName reads,
// base64, PEM parsing and the key matching its certificate, with field paths.
#include "control/model/secret.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "absl/strings/escaping.h"
#include "control/model/kinds.h"
#include "control/model/validation.h"
#include "security/openssl_util.h"

namespace weft::control {
namespace {

using nlohmann::json;

struct Pair {
  std::string cert, key;
};

// A self-signed EC certificate and its key, made here so the test needs no files.
Pair SelfSigned(const std::string& cn) {
  auto key = security::NewEcP256Key();
  EXPECT_TRUE(key.ok());
  security::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key->get());
  EXPECT_GT(X509_sign(cert.get(), key->get(), EVP_sha256()), 0);
  return {security::CertificateToPem(cert.get()), security::PrivateKeyToPem(key->get())};
}

std::string B64(const std::string& s) { return absl::Base64Escape(s); }

json Secret(const std::string& type, json data) {
  json o = {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"name", "client"}, {"namespace", "default"}}},
            {"data", std::move(data)}};
  if (!type.empty()) o["type"] = type;
  return o;
}

std::string All(const json& object) {
  std::string out;
  for (const FieldError& e : ValidateResource(object)) out += FormatFieldError(e) + "\n";
  return out;
}

TEST(SecretKindTest, IsTheCoreGroupsV1) {
  const KindInfo* kind = FindKindByAnyName("secrets");
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->kind, "Secret");
  EXPECT_EQ(ApiVersionOf(*kind, "v1"), "v1");
  EXPECT_EQ(ApiPathPrefix(*kind, "v1"), "/api/v1");
  EXPECT_TRUE(IsServedVersion(*kind, "v1"));
  EXPECT_FALSE(IsServedVersion(*kind, "v1beta1"));
  std::string_view group, version;
  SplitApiVersion("v1", &group, &version);
  EXPECT_EQ(group, "");
  EXPECT_EQ(version, "v1");
}

TEST(SecretValidationTest, TlsAndOpaqueShapesAreAccepted) {
  const Pair client = SelfSigned("client"), ca = SelfSigned("ca");
  EXPECT_EQ(All(Secret("kubernetes.io/tls", {{"tls.crt", B64(client.cert)},
                                             {"tls.key", B64(client.key)},
                                             {"ca.crt", B64(ca.cert)}})),
            "");
  EXPECT_EQ(
      All(Secret("Opaque",
                 {{"cert", B64(client.cert)}, {"key", B64(client.key)}, {"cacert", B64(ca.cert)}})),
      "");
  // Type defaults to Opaque (Kubernetes); a CA alone is a SIMPLE credential.
  EXPECT_EQ(All(Secret("", {{"cacert", B64(ca.cert)}})), "");
  // stringData: plain text, folded into data on write.
  json o = Secret("kubernetes.io/tls", json::object());
  o["stringData"] = {{"tls.crt", client.cert}, {"tls.key", client.key}};
  EXPECT_EQ(All(o), "");
  FoldStringData(o);
  EXPECT_FALSE(o.contains("stringData"));
  EXPECT_EQ(o["data"]["tls.crt"], B64(client.cert));
  std::optional<TlsCredential> c = TlsCredentialOf(o);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->cert_chain_pem, client.cert);
  EXPECT_EQ(c->private_key_pem, client.key);
  EXPECT_EQ(c->ca_pem, "");
}

TEST(SecretValidationTest, RefusedWithTheFieldPath) {
  const Pair client = SelfSigned("client"), other = SelfSigned("other");
  EXPECT_EQ(
      All(Secret("kubernetes.io/tls", {{"tls.crt", "not base64!"}, {"tls.key", B64(client.key)}})),
      "data[tls.crt]: Invalid value: illegal base64 data\n");
  EXPECT_EQ(
      All(Secret("kubernetes.io/tls", {{"tls.crt", B64("hello")}, {"tls.key", B64(client.key)}})),
      "data[tls.crt]: Invalid value: not a PEM certificate chain\n");
  EXPECT_EQ(
      All(Secret("kubernetes.io/tls", {{"tls.crt", B64(client.cert)}, {"tls.key", B64("nope")}})),
      "data[tls.key]: Invalid value: not a PEM private key\n");
  EXPECT_EQ(
      All(Secret("kubernetes.io/tls",
                 {{"tls.crt", B64(client.cert)}, {"tls.key", B64(other.key)}})),
      "data[tls.key]: Invalid value: the private key does not match the certificate of tls.crt\n");
  EXPECT_EQ(All(Secret("kubernetes.io/tls", {{"tls.crt", B64(client.cert)}})),
            "data[tls.key]: Required value\n");
  EXPECT_EQ(All(Secret("Opaque", {{"cacert", B64("junk")}})),
            "data[cacert]: Invalid value: not a PEM certificate bundle\n");
  EXPECT_EQ(All(Secret("kubernetes.io/dockerconfigjson", {{"x", B64("y")}})),
            "type: Unsupported value: \"kubernetes.io/dockerconfigjson\": supported values: "
            "\"kubernetes.io/tls\", \"Opaque\"\n");
  json unknown = Secret("Opaque", {{"cacert", B64(client.cert)}});
  unknown["spec"] = json::object();
  EXPECT_EQ(All(unknown), "spec: unknown field\n") << All(unknown);
  json wrong_version = Secret("Opaque", {{"cacert", B64(client.cert)}});
  wrong_version["apiVersion"] = "networking.istio.io/v1";
  EXPECT_EQ(All(wrong_version),
            "apiVersion: Unsupported value: \"networking.istio.io/v1\": supported values: "
            "\"v1\"\n");
  // A value that is wrong must never be echoed back (it may be a key).
  EXPECT_EQ(All(Secret("Opaque", {{"key", B64("SECRET-KEY-TEXT")}, {"cert", B64(client.cert)}}))
                .find("SECRET-KEY-TEXT"),
            std::string::npos);
}

TEST(SecretValidationTest, ImmutableSecretsKeepTheirData) {
  const Pair a = SelfSigned("a");
  json stored = Secret("Opaque", {{"cacert", B64(a.cert)}});
  json updated = Secret("Opaque", {{"cacert", B64(a.cert + a.cert)}});
  Errors errors;
  ValidateSecretUpdate(stored, updated, errors);
  EXPECT_TRUE(errors.empty());  // not immutable: anything goes
  stored["immutable"] = true;
  updated["immutable"] = true;
  ValidateSecretUpdate(stored, updated, errors);
  ASSERT_EQ(errors.list().size(), 1u);
  EXPECT_EQ(errors.list()[0].field, "data");
  Errors same;
  ValidateSecretUpdate(stored, stored, same);
  EXPECT_TRUE(same.empty());
}

}  // namespace
}  // namespace weft::control
