// The Server's side of SDS: every TlsContext of a listener (filter chains) or cluster
// (transport_socket, transport_socket_matches), from the bootstrap, LDS or CDS, follows its SDS
// names through the secret provider before the config reaches a worker: the identity agent's
// `default`/`ROOTCA`, or any other name over the ADS stream (DestinationRule credentialName;
// the xDS client subscribes to Server::SdsSecretNames() and delivers into secrets()).
// A context whose secrets have not arrived yet has no SSL_CTX: its handshakes fail cleanly
// (ssl.connection_error) and work as soon as the secrets arrive — weft does not hold a
// listener back (Envoy warms it) so plaintext chains of the same listener serve meanwhile.
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "proxy/server/server.h"

namespace weft::proxy {
namespace {

void CollectChain(const listener::FilterChain& chain,
                  std::vector<std::shared_ptr<tls::TlsContext>>& out) {
  if (chain.tls) out.push_back(chain.tls);
}

}  // namespace

std::vector<std::shared_ptr<tls::TlsContext>> TlsContextsOf(const listener::ListenerConfig& l) {
  std::vector<std::shared_ptr<tls::TlsContext>> out;
  for (const auto& chain : l.filter_chains) CollectChain(chain, out);
  if (l.default_filter_chain) CollectChain(*l.default_filter_chain, out);
  return out;
}

std::vector<std::shared_ptr<tls::TlsContext>> TlsContextsOf(const upstream::ClusterConfig& c) {
  std::vector<std::shared_ptr<tls::TlsContext>> out;
  if (c.tls) out.push_back(c.tls);
  for (const auto& m : c.transport_socket_matches) {
    if (m.tls) out.push_back(m.tls);
  }
  return out;
}

absl::Status Server::SubscribeSecrets(const std::vector<std::shared_ptr<tls::TlsContext>>& contexts,
                                      std::string_view owner) {
  // All or nothing: a config naming a secret no one serves is refused before any subscribes.
  for (const auto& context : contexts) {
    if (!context->needs_secrets()) continue;
    const tls::TlsContextConfig& c = context->config();
    for (const std::string* name : {&c.certificate_sds_name, &c.validation_sds_name}) {
      if (name->empty()) continue;
      if (tls::RoutingSecretProvider::IsAgentName(*name)) {
        if (secrets_.has_agent()) continue;
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(owner), ": ", c.sds_path, ": SDS secret '", *name,
                         "' is the identity agent's (start weft-proxy with --ca-addr)"));
      }
      if (!bootstrap_.xds.enabled) {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(owner), ": ", c.sds_path, ": SDS secret '", *name,
            "' comes over ADS, and the bootstrap has no dynamic_resources.ads_config"));
      }
    }
  }
  for (const auto& context : contexts) {
    if (context->needs_secrets()) context->Subscribe(secrets_);
  }
  return absl::OkStatus();
}

}  // namespace weft::proxy
