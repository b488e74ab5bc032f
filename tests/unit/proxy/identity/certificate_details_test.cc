// /certs' CertificateDetails of real certificates (made by weftd's CA code): serial in lowercase
// hex, URI / DNS / IP SANs, RFC 3339 times, whole days left as a string.
#include "proxy/identity/certificate_details.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "control/ca/certificate_authority.h"
#include "security/openssl_util.h"

namespace weft::proxy::identity {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

class CertificateDetailsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("weft-certs-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto ca = control::ca::CertificateAuthority::Open(dir_ / "ca", "", "cluster.local");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::unique_ptr<control::ca::CertificateAuthority> ca_;
};

TEST_F(CertificateDetailsTest, WorkloadCertificate) {
  const std::string id = "spiffe://cluster.local/ns/default/sa/productpage";
  auto key = security::NewEcP256Key();
  ASSERT_TRUE(key.ok());
  auto chain = ca_->SignCsr(*security::MakeCsr(key->get(), "URI:" + id), id, hours(72));
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto validity = CertificateValidity((*chain)[0]);
  ASSERT_TRUE(validity.ok());
  EXPECT_EQ(validity->not_after - validity->not_before, hours(72));
  auto details = CertificateDetails((*chain)[0], "<inline>", validity->not_before + seconds(1));
  ASSERT_TRUE(details.ok()) << details.status();
  EXPECT_EQ((*details)["path"], "<inline>");
  EXPECT_EQ((*details)["subject_alt_names"],
            nlohmann::json::parse(R"([{"uri": ")" + id + R"("}])"));
  EXPECT_EQ((*details)["days_until_expiration"], "2");  // 71 h 59 m 59 s left
  EXPECT_EQ((*details)["serial_number"].get<std::string>().find_first_not_of("0123456789abcdef"),
            std::string::npos);
  EXPECT_EQ((*details)["serial_number"].get<std::string>().size(), 32u);  // 128-bit serial
  EXPECT_TRUE(std::regex_match((*details)["valid_from"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  // Expired: zero days, never negative.
  auto later = CertificateDetails((*chain)[0], "<inline>", validity->not_after + hours(48));
  EXPECT_EQ((*later)["days_until_expiration"], "0");
}

TEST_F(CertificateDetailsTest, ServingCertificateSans) {
  auto pair = ca_->IssueServingCertificate({"istiod.istio-system.svc"}, {"127.0.0.1"}, hours(1));
  ASSERT_TRUE(pair.ok());
  auto details = CertificateDetails(pair->cert_chain_pem, "/etc/certs/cert.pem",
                                    std::chrono::system_clock::now());
  ASSERT_TRUE(details.ok());
  EXPECT_EQ((*details)["subject_alt_names"],
            nlohmann::json::parse(
                R"([{"dns": "istiod.istio-system.svc"}, {"ip_address": "127.0.0.1"}])"));
  EXPECT_FALSE(CertificateDetails("not pem", "x", std::chrono::system_clock::now()).ok());
}

}  // namespace
}  // namespace weft::proxy::identity
