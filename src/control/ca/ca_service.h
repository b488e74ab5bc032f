// Istio's certificate service, istio.v1.auth.IstioCertificateService/CreateCertificate, served
// by weftd on its TLS xDS port (--xds-tls-addr, Istio's 15012):
//   - the caller shows `authorization: Bearer <token>` (token_authority.h); no or a bad token is
//     UNAUTHENTICATED;
//   - the CSR must ask for exactly the token's identity,
//     spiffe://<trust domain>/ns/<ns>/sa/<sa>, else PERMISSION_DENIED;
//   - validity_duration (seconds) may shorten the certificate's lifetime, not lengthen it past
//     --workload-cert-ttl (Istio refuses such a request too: INVALID_ARGUMENT);
//   - the answer is Istio's cert_chain: [leaf, intermediates..., root].
// Every refusal is logged with its reason and counted under Istio's metric names
// (citadel_server_*, istio/istio security/pkg/server/ca/monitoring.go).
//
// gRPC stays behind this header: weftd's main hands grpc_service() to the AdsServer's TLS port.
// Thread-safe (gRPC's threads call it concurrently; counters are atomics).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "control/ca/certificate_authority.h"
#include "control/ca/token_authority.h"

namespace grpc {
class Service;
}

namespace weft::control::ca {

class CaService {
 public:
  CaService(CertificateAuthority& authority, const TokenAuthority& tokens, std::string trust_domain,
            std::chrono::seconds workload_cert_ttl);
  ~CaService();

  grpc::Service* grpc_service();

  // The counters in Prometheus' text format, for weftd's GET /metrics.
  std::string PrometheusText() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::control::ca
