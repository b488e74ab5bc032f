// Upstream TLS session resumption: the last session one worker made with one upstream host,
// offered on that worker's next connection to it (SSL_set_session), so connection-per-request
// traffic between sidecars resumes instead of running a full handshake (Envoy's
// UpstreamTlsContext resumes by default: max_session_keys 1 per host, tls.proto).
//
// Not thread-safe: one cache belongs to one worker (the worker's ThreadLocalCluster).
#pragma once

#include <openssl/ssl.h>

#include <memory>

namespace weft::tls {

class SslContext;

class SessionCache {
 public:
  SessionCache() = default;
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;
  ~SessionCache() {
    if (session_ != nullptr) SSL_SESSION_free(session_);
  }
  // Takes ownership of `session`, made under `context`.
  void Store(SSL_SESSION* session, const std::shared_ptr<const SslContext>& context) {
    if (session_ != nullptr) SSL_SESSION_free(session_);
    session_ = session;
    context_ = context;
  }
  // The session to offer on a new connection made with `context`; null when none, or when it
  // was made with another context (a rotated certificate starts afresh).
  SSL_SESSION* SessionFor(const SslContext* context) const {
    return session_ != nullptr && context_.lock().get() == context ? session_ : nullptr;
  }

 private:
  SSL_SESSION* session_ = nullptr;
  std::weak_ptr<const SslContext> context_;
};

}  // namespace weft::tls
