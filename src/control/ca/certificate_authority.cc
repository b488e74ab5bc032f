#include "control/ca/certificate_authority.h"

#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "base/logging.h"
#include "base/status.h"
#include "security/openssl_util.h"

namespace weft::control::ca {
using namespace ::weft::security;  // X509Ptr, PEM helpers
namespace {

constexpr const char kRootCert[] = "root-cert.pem";
constexpr const char kCaCert[] = "ca-cert.pem";
constexpr const char kCaKey[] = "ca-key.pem";
constexpr const char kCertChain[] = "cert-chain.pem";
// Istio's self-signed root lives ten years (CITADEL_SELF_SIGNED_CA_CERT_TTL, 87600h).
constexpr std::chrono::hours kRootTtl(87600);

struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct ExtensionsFree {
  void operator()(STACK_OF(X509_EXTENSION) * p) const {
    sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
  }
};

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InternalError(std::string("extension ") + OBJ_nid2sn(nid) + " = " + value + ": " +
                               OpenSslError());
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (!ok) return absl::InternalError("X509_add_ext: " + OpenSslError());
  return absl::OkStatus();
}

// A new certificate with a random positive 128-bit serial (RFC 5280 4.1.2.2 allows 20 octets),
// valid from now for `ttl`, issued by `issuer` (itself when null).
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* subject_key, X509* issuer,
                                       std::chrono::seconds ttl) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return absl::InternalError("RAND_bytes failed");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(ttl.count()));
  X509_set_pubkey(cert.get(), subject_key);
  if (issuer != nullptr) X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  return cert;
}

absl::StatusOr<std::string> ReadCaFile(const std::string& dir, const char* name) {
  absl::StatusOr<std::string> text = ReadFile(dir + "/" + name);
  if (!text.ok()) return absl::NotFoundError("CA file " + std::string(text.status().message()));
  return text;
}

}  // namespace

struct CertificateAuthority::State {
  X509Ptr root;
  X509Ptr ca_cert;
  PkeyPtr ca_key;
  std::vector<X509Ptr> intermediates;  // between ca_cert and root, in order
  std::string root_pem;
  std::string chain_tail_pem;  // ca_cert (when not the root) + intermediates, PEM
  std::mutex sign_mu;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
CertificateAuthority::~CertificateAuthority() = default;

const std::string& CertificateAuthority::root_cert_pem() const { return state_->root_pem; }

std::string SpiffeId(const std::string& trust_domain, const std::string& ns,
                     const std::string& sa) {
  return "spiffe://" + trust_domain + "/ns/" + ns + "/sa/" + sa;
}

namespace {

// The self-signed root weftd makes at first start.
absl::Status CreateRoot(const std::string& dir, const std::string& org) {
  ASSIGN_OR_RETURN(PkeyPtr key, NewEcP256Key());
  ASSIGN_OR_RETURN(X509Ptr root, NewCertificate(key.get(), nullptr, kRootTtl));
  X509_NAME* name = X509_get_subject_name(root.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  X509_set_issuer_name(root.get(), name);
  RETURN_IF_ERROR(AddExtension(root.get(), root.get(), NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExtension(root.get(), root.get(), NID_key_usage,
                               "critical,digitalSignature,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(root.get(), root.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(root.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing the root: " + OpenSslError());
  }
  const std::string pem = CertificateToPem(root.get());
  // The key first: a crash between writes leaves no root without its key.
  RETURN_IF_ERROR(WriteFileWithMode(dir + "/" + kCaKey, PrivateKeyToPem(key.get()), 0600));
  RETURN_IF_ERROR(WriteFileWithMode(dir + "/" + kCertChain, pem, 0644));
  RETURN_IF_ERROR(WriteFileWithMode(dir + "/" + kRootCert, pem, 0644));
  RETURN_IF_ERROR(WriteFileWithMode(dir + "/" + kCaCert, pem, 0644));
  WEFT_LOG(info, "ca: created a self-signed root CA in {} (O={}, valid {} h)", dir, org,
           kRootTtl.count());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(
    const std::string& ca_dir, const std::string& plugin_dir, const std::string& org) {
  std::string dir = plugin_dir;
  if (dir.empty()) {
    dir = ca_dir;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(dir + ": " + std::strerror(errno));
    }
    struct stat st;
    if (::stat((dir + "/" + kCaKey).c_str(), &st) != 0) RETURN_IF_ERROR(CreateRoot(dir, org));
  }
  struct stat key_stat;
  if (::stat((dir + "/" + kCaKey).c_str(), &key_stat) == 0 && (key_stat.st_mode & 077) != 0) {
    // Istio reads a mounted secret whatever its mode; so do we, but say it.
    WEFT_LOG(warn, "ca: {}/{} is readable by group or others (mode {:o}); keep it 0600", dir,
             kCaKey, key_stat.st_mode & 0777);
  }
  auto state = std::make_unique<State>();
  ASSIGN_OR_RETURN(std::string root_pem, ReadCaFile(dir, kRootCert));
  ASSIGN_OR_RETURN(std::string ca_pem, ReadCaFile(dir, kCaCert));
  ASSIGN_OR_RETURN(std::string key_pem, ReadCaFile(dir, kCaKey));
  ASSIGN_OR_RETURN(std::string chain_pem, ReadCaFile(dir, kCertChain));
  auto with_name = [&](const char* name, absl::Status st) {
    return absl::InvalidArgumentError(dir + "/" + name + ": " + std::string(st.message()));
  };
  auto root = ParseCertificate(root_pem);
  if (!root.ok()) return with_name(kRootCert, root.status());
  auto ca_cert = ParseCertificate(ca_pem);
  if (!ca_cert.ok()) return with_name(kCaCert, ca_cert.status());
  auto ca_key = ParsePrivateKey(key_pem);
  if (!ca_key.ok()) return with_name(kCaKey, ca_key.status());
  auto chain = ParseCertificates(chain_pem);
  if (!chain.ok()) return with_name(kCertChain, chain.status());
  state->root = std::move(*root);
  state->ca_cert = std::move(*ca_cert);
  state->ca_key = std::move(*ca_key);
  if (X509_check_private_key(state->ca_cert.get(), state->ca_key.get()) != 1) {
    return absl::InvalidArgumentError(dir + "/" + kCaKey + " is not the key of " + dir + "/" +
                                      kCaCert + ": " + OpenSslError());
  }
  if (X509_check_ca(state->ca_cert.get()) == 0) {
    return absl::InvalidArgumentError(dir + "/" + kCaCert + " is not a CA certificate");
  }
  const bool ca_is_root = X509_cmp(state->ca_cert.get(), state->root.get()) == 0;
  for (X509Ptr& cert : *chain) {
    // cert-chain.pem usually repeats ca-cert.pem and the root (Istio's samples/certs does).
    if (X509_cmp(cert.get(), state->ca_cert.get()) == 0) continue;
    if (X509_cmp(cert.get(), state->root.get()) == 0) continue;
    state->intermediates.push_back(std::move(cert));
  }
  // The signing certificate must chain to the root through cert-chain.pem.
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, state->root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (X509Ptr& cert : state->intermediates) sk_X509_push(untrusted, cert.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, state->ca_cert.get(), untrusted);
  const bool verified = X509_verify_cert(ctx) == 1;
  const std::string why =
      verified ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  if (!verified) {
    return absl::InvalidArgumentError(dir + "/" + kCaCert + " does not chain to " + dir + "/" +
                                      kRootCert + " through " + kCertChain + ": " + why);
  }
  state->root_pem = CertificateToPem(state->root.get());
  if (!ca_is_root) state->chain_tail_pem = CertificateToPem(state->ca_cert.get());
  for (X509Ptr& cert : state->intermediates) state->chain_tail_pem += CertificateToPem(cert.get());
  WEFT_LOG(info, "ca: signing with {}/{} ({})", dir, kCaCert,
           ca_is_root ? "self-signed root" : "intermediate of a plug-in root");
  return std::unique_ptr<CertificateAuthority>(new CertificateAuthority(std::move(state)));
}

namespace {

// The CSR's subjectAltName URIs; any other SAN type is an error.
absl::StatusOr<std::vector<std::string>> CsrUriSans(X509_REQ* req) {
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtensionsFree> exts(X509_REQ_get_extensions(req));
  std::vector<std::string> uris;
  if (!exts) return uris;
  int at = X509v3_get_ext_by_NID(exts.get(), NID_subject_alt_name, -1);
  if (at < 0) return uris;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts.get(), at))));
  if (!names) return absl::InvalidArgumentError("unreadable subjectAltName");
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) {
      return absl::PermissionDeniedError("the CSR asks for a non-URI subjectAltName");
    }
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  return uris;
}

absl::Status CheckSubjectKey(EVP_PKEY* key) {
  const int id = EVP_PKEY_get_base_id(key);
  if (id == EVP_PKEY_EC) return absl::OkStatus();
  if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= 2048) return absl::OkStatus();
  return absl::InvalidArgumentError("the CSR's key must be EC or RSA of at least 2048 bits");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CertificateAuthority::SignCsr(const std::string& csr_pem,
                                                                       const std::string& spiffe_id,
                                                                       std::chrono::seconds ttl) {
  ASSIGN_OR_RETURN(ReqPtr req, ParseCsr(csr_pem));
  EVP_PKEY* subject_key = X509_REQ_get0_pubkey(req.get());
  if (subject_key == nullptr) return absl::InvalidArgumentError("the CSR has no public key");
  // Proof of possession: the requester holds the key it asks a certificate for.
  if (X509_REQ_verify(req.get(), subject_key) != 1) {
    return absl::InvalidArgumentError("the CSR's signature does not verify: " + OpenSslError());
  }
  RETURN_IF_ERROR(CheckSubjectKey(subject_key));
  ASSIGN_OR_RETURN(std::vector<std::string> uris, CsrUriSans(req.get()));
  if (uris.size() != 1) {
    return absl::PermissionDeniedError("the CSR must carry exactly one URI SAN (it has " +
                                       std::to_string(uris.size()) + ")");
  }
  if (uris[0] != spiffe_id) {
    return absl::PermissionDeniedError("the CSR asks for " + uris[0] + " but the caller is " +
                                       spiffe_id);
  }
  std::lock_guard lock(state_->sign_mu);
  X509* issuer = state_->ca_cert.get();
  ASSIGN_OR_RETURN(X509Ptr leaf, NewCertificate(subject_key, issuer, ttl));
  // Istio's workload certificates: empty subject, so the SAN is critical (RFC 5280 4.2.1.6).
  RETURN_IF_ERROR(AddExtension(leaf.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(
      AddExtension(leaf.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  RETURN_IF_ERROR(AddExtension(leaf.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth"));
  if (X509_get0_subject_key_id(issuer) != nullptr) {  // a user's intermediate may have none
    RETURN_IF_ERROR(AddExtension(leaf.get(), issuer, NID_authority_key_identifier, "keyid"));
  }
  RETURN_IF_ERROR(
      AddExtension(leaf.get(), issuer, NID_subject_alt_name, "critical,URI:" + spiffe_id));
  if (X509_sign(leaf.get(), state_->ca_key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing: " + OpenSslError());
  }
  std::vector<std::string> chain{CertificateToPem(leaf.get())};
  if (X509_cmp(state_->ca_cert.get(), state_->root.get()) != 0) {
    chain.push_back(CertificateToPem(state_->ca_cert.get()));
  }
  for (X509Ptr& cert : state_->intermediates) chain.push_back(CertificateToPem(cert.get()));
  chain.push_back(state_->root_pem);
  return chain;
}

absl::StatusOr<KeyCertPair> CertificateAuthority::IssueServingCertificate(
    const std::vector<std::string>& dns_names, const std::vector<std::string>& ips,
    std::chrono::seconds ttl) {
  ASSIGN_OR_RETURN(PkeyPtr key, NewEcP256Key());
  std::lock_guard lock(state_->sign_mu);
  X509* issuer = state_->ca_cert.get();
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), issuer, ttl));
  std::string sans;
  for (const std::string& dns : dns_names) sans += (sans.empty() ? "DNS:" : ",DNS:") + dns;
  for (const std::string& ip : ips) sans += (sans.empty() ? "IP:" : ",IP:") + ip;
  RETURN_IF_ERROR(AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  RETURN_IF_ERROR(AddExtension(cert.get(), issuer, NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(AddExtension(cert.get(), issuer, NID_subject_alt_name, "critical," + sans));
  if (X509_sign(cert.get(), state_->ca_key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing: " + OpenSslError());
  }
  return KeyCertPair{CertificateToPem(cert.get()) + state_->chain_tail_pem,
                     PrivateKeyToPem(key.get())};
}

}  // namespace weft::control::ca
