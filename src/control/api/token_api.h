// Service-account tokens for the identity agents of weft-proxy (docs/user-guide/security.md):
//
//   POST /apis/weft.io/v1/namespaces/<ns>/serviceaccounts/<sa>/token
//        body {} or {"expirationSeconds": N} (default one year)  ->  201 {"token": "..."}
//
// The path is Kubernetes' TokenRequest subresource's, under weftd's own group; the token is
// what `weft-proxy --ca-token-file` presents to the CA (control/ca/token_authority.h). Whoever
// can reach weftd's API can mint any token: the API listens on loopback by default, as the rest
// of the resource API (which can rewrite every policy) does.
#pragma once

#include "control/api/http_server.h"
#include "control/ca/token_authority.h"

namespace weft::control {

class TokenApi {
 public:
  explicit TokenApi(const ca::TokenAuthority& tokens) : tokens_(tokens) {}

  static bool Serves(const HttpRequest& request);
  void Handle(const HttpRequest& request, HttpExchange& exchange);

 private:
  const ca::TokenAuthority& tokens_;
};

}  // namespace weft::control
