// Secrets by SDS name, for the TLS transport sockets (issue 6 contract, section 3).
#pragma once

#include <functional>
#include <string>

namespace weft::proxy::tls {

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
                                    std::function<void(const TlsCertificate&)>) = 0;
  virtual void SubscribeValidation(const std::string& name,
                                   std::function<void(const ValidationContext&)>) = 0;
};

}  // namespace weft::proxy::tls
