#include "proxy/tls/routing_secret_provider.h"

namespace weft::tls {

void RoutingSecretProvider::SubscribeCertificate(
    const std::string& name, std::function<void(const TlsCertificate&)> on_update) {
  if (IsAgentName(name)) {
    if (agent_ != nullptr) agent_->SubscribeCertificate(name, std::move(on_update));
    return;
  }
  ads_names_.insert(name);
  ads_.SubscribeCertificate(name, std::move(on_update));
}

void RoutingSecretProvider::SubscribeValidation(
    const std::string& name, std::function<void(const ValidationContext&)> on_update) {
  if (IsAgentName(name)) {
    if (agent_ != nullptr) agent_->SubscribeValidation(name, std::move(on_update));
    return;
  }
  ads_names_.insert(name);
  ads_.SubscribeValidation(name, std::move(on_update));
}

}  // namespace weft::tls
