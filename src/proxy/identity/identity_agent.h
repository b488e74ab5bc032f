// weft-proxy's identity agent: Istio's pilot-agent SDS server, inside the proxy. It makes an
// EC P-256 key in memory (never written anywhere), sends a CSR for the workload's SPIFFE id,
// spiffe://<trust domain>/ns/<NAMESPACE>/sa/<SERVICE_ACCOUNT>, to weftd's CA (ca_client.h) with
// the token of --ca-token-file (re-read at each request), and serves the answer as two SDS
// secrets with Istio's names:
//   "default"  the workload's certificate chain and key (an Envoy tls_certificate)
//   "ROOTCA"   the root of the chain the CA returned (an Envoy validation_context)
// It renews at half the certificate's lifetime, ±10 % jitter (Istio's SecretManager renews at
// SECRET_GRACE_PERIOD_RATIO 0.5 with a jitter; issue 6 asks 10 %), so a fleet's renewals spread
// out; a failed request is retried with jittered exponential back-off (1 s doubling to 60 s)
// while the current certificate keeps serving.
//
// Threads: requests run on the agent's own thread (a blocking gRPC call); results are posted to
// the main dispatcher, where subscribers are called and /certs is read. Construct, Start,
// subscribe and destroy on the main thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "event/dispatcher.h"
#include "proxy/stats/stats.h"
#include "proxy/tls/secret_provider.h"

namespace weft::proxy::identity {

struct AgentOptions {
  std::string ca_address;     // --ca-addr host:port
  std::string root_cert_pem;  // contents of --ca-root-cert
  std::string token_path;     // --ca-token-file
  std::string spiffe_id;
  std::chrono::seconds request_timeout{10};
};

class IdentityAgent : public tls::SecretProvider {
 public:
  // Istio's SDS names.
  static constexpr const char kWorkloadCertificate[] = "default";
  static constexpr const char kRootCa[] = "ROOTCA";

  // `days_until_expiring` (optional): Envoy's server.days_until_first_cert_expiring.
  IdentityAgent(event::Dispatcher& main, AgentOptions options, stats::Gauge* days_until_expiring);
  ~IdentityAgent() override;  // stops and joins the agent's thread

  void Start();

  // Names other than "default" / "ROOTCA" are not the agent's: the callback is never called.
  void SubscribeCertificate(const std::string& name,
                            std::function<void(const tls::TlsCertificate&)> callback) override;
  void SubscribeValidation(const std::string& name,
                           std::function<void(const tls::ValidationContext&)> callback) override;

  // Envoy's /certs body: {"certificates": [{"ca_cert": [...], "cert_chain": [...]}]}, empty
  // until the first certificate arrives.
  std::string CertsJson() const;

 private:
  struct Shared;
  class Worker;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace weft::proxy::identity
