// Secrets by SDS name (Envoy's tls_certificate_sds_secret_configs /
// validation_context_sds_secret_config), served in-process: the identity agent (Istio's pilot-agent
// inside weft-proxy) provides Istio's `default` and `ROOTCA`; tests use StaticSecretProvider. The
// contract of issue 6 (section 3).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace weft::tls {

struct TlsCertificate {
  std::string cert_chain_pem, private_key_pem;
};
struct ValidationContext {
  std::string trusted_ca_pem;
};

// Main thread. Secrets by SDS name; Subscribe's callback runs on the main thread whenever the
// secret changes (first value included).
class SecretProvider {
 public:
  virtual ~SecretProvider() = default;
  virtual void SubscribeCertificate(const std::string& name,
                                    std::function<void(const TlsCertificate&)> on_update) = 0;
  virtual void SubscribeValidation(const std::string& name,
                                   std::function<void(const ValidationContext&)> on_update) = 0;
};

// Secrets set by hand (tests, and files given on the command line): Set* stores the secret and
// calls every subscriber of that name; Subscribe* calls back at once if the secret is known.
class StaticSecretProvider : public SecretProvider {
 public:
  void SubscribeCertificate(const std::string& name,
                            std::function<void(const TlsCertificate&)> on_update) override {
    auto it = certificates_.find(name);
    if (it != certificates_.end()) on_update(it->second);
    certificate_subscribers_[name].push_back(std::move(on_update));
  }
  void SubscribeValidation(const std::string& name,
                           std::function<void(const ValidationContext&)> on_update) override {
    auto it = validations_.find(name);
    if (it != validations_.end()) on_update(it->second);
    validation_subscribers_[name].push_back(std::move(on_update));
  }
  void SetCertificate(const std::string& name, TlsCertificate secret) {
    certificates_[name] = std::move(secret);
    for (auto& cb : certificate_subscribers_[name]) cb(certificates_[name]);
  }
  void SetValidation(const std::string& name, ValidationContext secret) {
    validations_[name] = std::move(secret);
    for (auto& cb : validation_subscribers_[name]) cb(validations_[name]);
  }

 private:
  std::map<std::string, TlsCertificate> certificates_;
  std::map<std::string, ValidationContext> validations_;
  std::map<std::string, std::vector<std::function<void(const TlsCertificate&)>>>
      certificate_subscribers_;
  std::map<std::string, std::vector<std::function<void(const ValidationContext&)>>>
      validation_subscribers_;
};

}  // namespace weft::tls
