#include "proxy/identity/certificate_details.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <ctime>

#include "base/status.h"
#include "security/openssl_util.h"

namespace weft::proxy::identity {
namespace {

using Clock = std::chrono::system_clock;

Clock::time_point ToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return Clock::from_time_t(timegm(&tm));
}

std::string Rfc3339(Clock::time_point t) {
  std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out(hex);
  OPENSSL_free(hex);
  BN_free(bn);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

nlohmann::json SubjectAltNames(X509* cert) {
  nlohmann::json out = nlohmann::json::array();
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    auto text = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    };
    if (name->type == GEN_URI) out.push_back({{"uri", text(name->d.uniformResourceIdentifier)}});
    if (name->type == GEN_DNS) out.push_back({{"dns", text(name->d.dNSName)}});
    if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* raw = name->d.iPAddress;
      if (ASN1_STRING_length(raw) == 4) {
        const unsigned char* b = ASN1_STRING_get0_data(raw);
        out.push_back({{"ip_address", std::to_string(b[0]) + "." + std::to_string(b[1]) + "." +
                                          std::to_string(b[2]) + "." + std::to_string(b[3])}});
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

absl::StatusOr<Validity> CertificateValidity(const std::string& pem) {
  ASSIGN_OR_RETURN(security::X509Ptr cert, security::ParseCertificate(pem));
  return Validity{ToTimePoint(X509_get0_notBefore(cert.get())),
                  ToTimePoint(X509_get0_notAfter(cert.get()))};
}

absl::StatusOr<nlohmann::json> CertificateDetails(const std::string& pem, const std::string& path,
                                                  Clock::time_point now) {
  ASSIGN_OR_RETURN(security::X509Ptr cert, security::ParseCertificate(pem));
  const Clock::time_point not_before = ToTimePoint(X509_get0_notBefore(cert.get()));
  const Clock::time_point not_after = ToTimePoint(X509_get0_notAfter(cert.get()));
  const auto left = std::chrono::duration_cast<std::chrono::hours>(not_after - now).count();
  return nlohmann::json{{"path", path},
                        {"serial_number", Serial(cert.get())},
                        {"subject_alt_names", SubjectAltNames(cert.get())},
                        {"days_until_expiration", std::to_string(left > 0 ? left / 24 : 0)},
                        {"valid_from", Rfc3339(not_before)},
                        {"expiration_time", Rfc3339(not_after)}};
}

}  // namespace weft::proxy::identity
