// CertificateAuthority with real OpenSSL: a self-signed root made once and reloaded, a plug-in
// intermediate, CSRs for the caller's identity signed with Istio's leaf shape, and CSRs for any
// other identity refused.
#include "control/ca/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>

#include "security/openssl_util.h"

namespace weft::control::ca {
namespace {

namespace fs = std::filesystem;
using namespace ::weft::security;
using std::chrono::seconds;

constexpr char kId[] = "spiffe://cluster.local/ns/default/sa/productpage";

std::string MakeCsr(const std::string& san_value, EVP_PKEY* key) {
  return *security::MakeCsr(key, san_value);
}

std::vector<std::string> UriSans(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_URI) {
      out.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

bool Verifies(X509* leaf, const std::vector<X509*>& intermediates, X509* root) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root);
  STACK_OF(X509)* chain = sk_X509_new_null();
  for (X509* c : intermediates) sk_X509_push(chain, c);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, chain);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
  return ok;
}

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft-ca-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CertificateAuthorityTest, CreatesRootOnceWithPrivateKeyMode0600) {
  auto ca = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  for (const char* name : {"root-cert.pem", "ca-cert.pem", "ca-key.pem", "cert-chain.pem"}) {
    EXPECT_TRUE(fs::exists(dir_ / "ca" / name)) << name;
  }
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "ca" / "ca-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "ca").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  // A restart keeps the same root.
  auto again = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->root_cert_pem(), (*ca)->root_cert_pem());
}

TEST_F(CertificateAuthorityTest, SignsCsrForCallerIdentityWithIstioLeafShape) {
  auto ca = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto key = NewEcP256Key();
  ASSERT_TRUE(key.ok());
  auto chain = (*ca)->SignCsr(MakeCsr(std::string("URI:") + kId, key->get()), kId, seconds(3600));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 2u);  // leaf, root
  EXPECT_EQ(chain->back(), (*ca)->root_cert_pem());
  auto leaf = ParseCertificate((*chain)[0]);
  auto root = ParseCertificate(chain->back());
  ASSERT_TRUE(leaf.ok() && root.ok());
  EXPECT_EQ(UriSans(leaf->get()), std::vector<std::string>{kId});
  EXPECT_TRUE(Verifies(leaf->get(), {}, root->get()));
  EXPECT_EQ(X509_get_key_usage(leaf->get()), unsigned{KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT});
  EXPECT_EQ(X509_get_extended_key_usage(leaf->get()), unsigned{XKU_SSL_SERVER | XKU_SSL_CLIENT});
  EXPECT_EQ(X509_check_ca(leaf->get()), 0);
  // Valid for the TTL asked: notAfter - notBefore == 1 h.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(leaf->get()),
                           X509_get0_notAfter(leaf->get())),
            1);
  EXPECT_EQ(days * 86400 + secs, 3600);
  // The subject key is the CSR's.
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(leaf->get()), key->get()), 1);
}

TEST_F(CertificateAuthorityTest, RefusesCsrForAnotherIdentityOrExtraSans) {
  auto ca = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto key = NewEcP256Key();
  ASSERT_TRUE(key.ok());
  auto other = (*ca)->SignCsr(
      MakeCsr("URI:spiffe://cluster.local/ns/default/sa/reviews", key->get()), kId, seconds(60));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  auto two = (*ca)->SignCsr(
      MakeCsr(std::string("URI:") + kId + ",URI:spiffe://cluster.local/ns/x/sa/y", key->get()), kId,
      seconds(60));
  EXPECT_EQ(two.status().code(), absl::StatusCode::kPermissionDenied);
  auto dns = (*ca)->SignCsr(MakeCsr(std::string("URI:") + kId + ",DNS:evil.example", key->get()),
                            kId, seconds(60));
  EXPECT_EQ(dns.status().code(), absl::StatusCode::kPermissionDenied);
  auto none = (*ca)->SignCsr(MakeCsr("", key->get()), kId, seconds(60));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied);
  auto garbage = (*ca)->SignCsr("-----BEGIN CERTIFICATE REQUEST-----\nxx\n", kId, seconds(60));
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CertificateAuthorityTest, RefusesCsrWhoseSignatureDoesNotVerify) {
  auto ca = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto key = NewEcP256Key();
  auto other_key = NewEcP256Key();
  ASSERT_TRUE(key.ok() && other_key.ok());
  // Build a CSR carrying `key` but signed by `other_key`: no proof of possession.
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), other_key->get());
  X509_REQ_sign(req.get(), other_key->get(), EVP_sha256());
  X509_REQ_set_pubkey(req.get(), key->get());
  BIO* bio = BIO_new(BIO_s_mem());
  i2d_X509_REQ_bio(bio, req.get());  // re-encode with the swapped key but the old signature
  BIO_free(bio);
  BIO* pem_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(pem_bio, req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(pem_bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(pem_bio);
  auto result = (*ca)->SignCsr(pem, kId, seconds(60));
  EXPECT_FALSE(result.ok());
}

TEST_F(CertificateAuthorityTest, PluginIntermediateChainsToUserRoot) {
  // The user's root, and an intermediate it signed: weftd's own CA code makes both (a root in
  // one dir, then a "serving" certificate cannot be a CA, so build the intermediate by hand).
  auto user_root = CertificateAuthority::Open(dir_ / "user-root", "", "example.com");
  ASSERT_TRUE(user_root.ok()) << user_root.status();
  auto root_cert = ParseCertificate((*user_root)->root_cert_pem());
  auto root_key = ParsePrivateKey(*ReadFile((dir_ / "user-root" / "ca-key.pem").string()));
  ASSERT_TRUE(root_cert.ok() && root_key.ok());
  auto inter_key = NewEcP256Key();
  ASSERT_TRUE(inter_key.ok());
  X509Ptr inter(X509_new());
  X509_set_version(inter.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(inter.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(inter.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(inter.get()), 86400);
  X509_set_pubkey(inter.get(), inter_key->get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(inter.get()), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("intermediate"), -1, -1, 0);
  X509_set_issuer_name(inter.get(), X509_get_subject_name(root_cert->get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, root_cert->get(), inter.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(inter.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_NE(X509_sign(inter.get(), root_key->get(), EVP_sha256()), 0);
  const fs::path cacerts = dir_ / "cacerts";
  fs::create_directories(cacerts);
  const std::string inter_pem = CertificateToPem(inter.get());
  ASSERT_TRUE(WriteFileWithMode((cacerts / "ca-cert.pem").string(), inter_pem, 0644).ok());
  ASSERT_TRUE(
      WriteFileWithMode((cacerts / "ca-key.pem").string(), PrivateKeyToPem(inter_key->get()), 0600)
          .ok());
  ASSERT_TRUE(
      WriteFileWithMode((cacerts / "root-cert.pem").string(), (*user_root)->root_cert_pem(), 0644)
          .ok());
  ASSERT_TRUE(WriteFileWithMode((cacerts / "cert-chain.pem").string(),
                                inter_pem + (*user_root)->root_cert_pem(), 0644)
                  .ok());

  auto ca = CertificateAuthority::Open(dir_ / "ca", cacerts.string(), "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_FALSE(fs::exists(dir_ / "ca" / "ca-key.pem"));  // nothing of ours made
  auto key = NewEcP256Key();
  auto chain = (*ca)->SignCsr(MakeCsr(std::string("URI:") + kId, key->get()), kId, seconds(60));
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 3u);  // leaf, intermediate, root (Istio's order)
  EXPECT_EQ((*chain)[1], inter_pem);
  EXPECT_EQ((*chain)[2], (*user_root)->root_cert_pem());
  auto leaf = ParseCertificate((*chain)[0]);
  EXPECT_TRUE(Verifies(leaf->get(), {inter.get()}, root_cert->get()));

  // A cacerts dir whose key is not the certificate's is refused with the file named.
  ASSERT_TRUE(
      WriteFileWithMode((cacerts / "ca-key.pem").string(), PrivateKeyToPem(key->get()), 0600).ok());
  auto wrong = CertificateAuthority::Open(dir_ / "ca", cacerts.string(), "cluster.local");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("ca-key.pem"), absl::string_view::npos);
}

TEST_F(CertificateAuthorityTest, ServingCertificateHasDnsAndIpSans) {
  auto ca = CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto pair =
      (*ca)->IssueServingCertificate({"istiod.istio-system.svc"}, {"127.0.0.1"}, seconds(3600));
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto cert = ParseCertificate(pair->cert_chain_pem);
  auto key = ParsePrivateKey(pair->private_key_pem);
  ASSERT_TRUE(cert.ok() && key.ok());
  EXPECT_EQ(X509_check_private_key(cert->get(), key->get()), 1);
  EXPECT_EQ(X509_check_host(cert->get(), "istiod.istio-system.svc", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert->get(), "127.0.0.1", 0), 1);
}

}  // namespace
}  // namespace weft::control::ca
