// The proxy's one SecretProvider, routing SDS names to where they are served:
//   "default", "ROOTCA"  the identity agent, in-process (identity_agent.h), when there is one;
//   any other name       weftd over the ADS stream (type envoy.extensions.transport_sockets.tls.
//                        v3.Secret; DestinationRule credentialName's "kubernetes://<name>" and
//                        "kubernetes://<name>-cacert"), delivered by the xDS client (SetFromAds).
// ADS names are remembered so the xDS client subscribes to them (AdsNames). Secrets live in
// memory only, as the agent's do.
//
// Main thread only, like every SecretProvider.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "proxy/tls/secret_provider.h"

namespace weft::tls {

class RoutingSecretProvider : public SecretProvider {
 public:
  // Istio's SDS names the agent serves (pilot/pkg/model/authentication.go:
  // SDSDefaultResourceName, SDSRootResourceName).
  static bool IsAgentName(const std::string& name) { return name == "default" || name == "ROOTCA"; }

  // `agent` may be null (no --ca-addr): its names are then served by nobody.
  void SetAgent(SecretProvider* agent) { agent_ = agent; }
  bool has_agent() const { return agent_ != nullptr; }

  void SubscribeCertificate(const std::string& name,
                            std::function<void(const TlsCertificate&)> on_update) override;
  void SubscribeValidation(const std::string& name,
                           std::function<void(const ValidationContext&)> on_update) override;

  // The names to ask ADS for, sorted.
  std::vector<std::string> AdsNames() const { return {ads_names_.begin(), ads_names_.end()}; }
  // A secret from ADS: its subscribers get it (a changed one rotates their SSL_CTX).
  void SetFromAds(const std::string& name, const TlsCertificate& certificate) {
    ads_.SetCertificate(name, certificate);
  }
  void SetFromAds(const std::string& name, const ValidationContext& validation) {
    ads_.SetValidation(name, validation);
  }

 private:
  SecretProvider* agent_ = nullptr;
  StaticSecretProvider ads_;
  std::set<std::string> ads_names_;
};

}  // namespace weft::tls
