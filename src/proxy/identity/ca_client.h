// The client side of Istio's certificate service (istio.v1.auth.IstioCertificateService,
// api/istio/security/v1alpha1/ca.proto): one blocking CreateCertificate call over gRPC + TLS,
// trusting only the mesh root, with the workload's token as `authorization: Bearer`. What
// Istio's pilot-agent does against istiod:15012.
//
// gRPC stays behind this header. Thread-compatible: the identity agent calls it from its own
// thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::proxy::identity {

class CaClient {
 public:
  // `address` "host:port" (a DNS name or IP the CA's serving certificate names);
  // `root_cert_pem` the roots to verify it with.
  CaClient(const std::string& address, const std::string& root_cert_pem);
  ~CaClient();

  // Istio's cert_chain: [leaf, intermediates..., root] PEM; the gRPC error as a Status.
  absl::StatusOr<std::vector<std::string>> CreateCertificate(const std::string& csr_pem,
                                                             const std::string& token,
                                                             std::chrono::seconds validity,
                                                             std::chrono::seconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::proxy::identity
