// The Server's side of SDS: every TlsContext of a listener (filter chains) or cluster
// (transport_socket, transport_socket_matches), from the bootstrap, LDS or CDS, follows its SDS
// names through the secret provider before the config reaches a worker: the identity agent's
// `default`/`ROOTCA`, or any other name over the ADS stream (DestinationRule credentialName;
// the xDS client subscribes to Server::SdsSecretNames() and delivers into secrets()).
// A listener whose secrets have not arrived yet warms (listener_warming.cc, Envoy's listener
// warming): it is not given to the workers — a client's connection waits in the socket's backlog
// instead of failing its handshake, and an updated listener's old version keeps serving — until
// the secrets arrive or their sds_config.initial_fetch_timeout passes (then it serves, and its
// TLS chains fail their handshakes, ssl.connection_error, until the secrets come). Clusters do
// not warm yet: a cluster's TLS context without its secrets fails its upstream handshakes.
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
    if (!context->needs_secrets() || context->subscribed()) continue;
    context->Subscribe(secrets_);
    if (context->ready()) continue;
    // Warming listeners wait for this context: look again when its secrets arrive. Registered
    // after the context's own callbacks, which the provider calls first (in subscription order);
    // posted, so that every context naming the secret has rebuilt before the listeners are
    // looked at, and the provider is not re-entered from its own callback.
    std::weak_ptr<tls::TlsContext> weak = context;
    auto on_secret = [this, weak] {
      if (weak.expired()) return;
      dispatcher_.Post([this] { (void)ActivateWarmListeners(); });
    };
    const tls::TlsContextConfig& c = context->config();
    if (!c.certificate_sds_name.empty()) {
      secrets_.SubscribeCertificate(c.certificate_sds_name,
                                    [on_secret](const tls::TlsCertificate&) { on_secret(); });
    }
    if (!c.validation_sds_name.empty()) {
      secrets_.SubscribeValidation(c.validation_sds_name,
                                   [on_secret](const tls::ValidationContext&) { on_secret(); });
    }
  }
  return absl::OkStatus();
}

}  // namespace weft::proxy
