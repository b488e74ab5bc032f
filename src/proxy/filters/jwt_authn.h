// envoy.filters.http.jwt_authn: end-user authentication with JSON Web Tokens
// (envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication; Envoy's
// docs/root/configuration/http/http_filters/jwt_authn_filter.rst). Providers say where a token
// is (Authorization: Bearer and the access_token query parameter by default, or from_headers /
// from_params), who issues it (issuer, audiences) and which keys sign it (local_jwks). Rules pick,
// by path prefix or exact path, a requirement: one provider, any / all of several, allow_missing
// (a missing token passes, an invalid one does not: Istio's RequestAuthentication) or
// allow_missing_or_failed.
//
// A refused request gets Envoy's answer: 401 (403 for audiences) whose body is the reason
// ("Jwt is missing", "Jwt verification fails", "Jwt is expired" ...), with
// `www-authenticate: Bearer realm="<url>"` (and `error="invalid_token"` unless the token was
// missing, RFC 6750 section 3). A verified token is forwarded or stripped (forward), its payload
// copied to forward_payload_header (base64url), claims to headers (claim_to_headers), and written
// to dynamic metadata: "istio_authn" as Istio's authn filter names it
// (request.auth.principal = "<iss>/<sub>", request.auth.audiences, request.auth.presenter,
// request.auth.claims.<claim>) and, with payload_in_metadata, the payload JSON under
// "envoy.filters.http.jwt_authn" / <payload_in_metadata>.
// Stats: <http stat prefix>jwt_authn.allowed / jwt_authn.denied (Envoy's names).
//
// The config is immutable and shared by every worker; a filter lives on its stream's worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/filters/filter.h"
#include "proxy/jwt/jwks.h"
#include "proxy/jwt/jwt.h"
#include "proxy/jwt/status.h"

namespace weft::filters {

// JwtProvider.remote_jwks: a JWKS fetched with a GET of http_uri through its cluster, kept
// cache_duration, fetched again by the first request that needs it after that (Envoy's
// behaviour without async_fetch). Shared by every worker: the cached set is behind a mutex
// held only to copy a shared_ptr. Two workers may fetch at the same moment; both results are
// good.
class RemoteJwks {
 public:
  std::string cluster;    // http_uri.cluster
  std::string authority;  // from http_uri.uri
  std::string path;       // from http_uri.uri, with its query
  std::chrono::milliseconds timeout{1000};
  // RemoteJwks.cache_duration: "If not specified, default cache duration is 10 minutes."
  std::chrono::seconds cache_duration{600};

  // The cached set while it is fresh, else nullptr.
  std::shared_ptr<const jwt::Jwks> Fresh(std::chrono::steady_clock::time_point now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return now < expires_ ? jwks_ : nullptr;
  }
  void Store(std::shared_ptr<const jwt::Jwks> jwks,
             std::chrono::steady_clock::time_point now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    jwks_ = std::move(jwks);
    expires_ = now + cache_duration;
  }

 private:
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const jwt::Jwks> jwks_;            // GUARDED_BY(mutex_)
  mutable std::chrono::steady_clock::time_point expires_{};  // GUARDED_BY(mutex_)
};

struct JwtProviderConfig {
  struct HeaderLocation {
    std::string name;          // lower case
    std::string value_prefix;  // e.g. "Bearer "; empty: the whole value
  };
  struct ClaimToHeader {
    std::string header_name;  // lower case
    std::string claim_name;   // a top-level claim, or a path "a.b" into nested objects
  };

  std::string issuer;  // empty: any issuer
  std::vector<std::string> audiences;
  std::shared_ptr<const jwt::Jwks> jwks;          // local_jwks
  std::shared_ptr<const RemoteJwks> remote_jwks;  // or remote_jwks
  bool forward = false;
  // Where the token may be. When both are empty, Envoy's default: Authorization with the
  // "Bearer " prefix, and the access_token query parameter.
  std::vector<HeaderLocation> from_headers;
  std::vector<std::string> from_params;
  std::string forward_payload_header;  // lower case
  std::string payload_in_metadata;
  std::vector<ClaimToHeader> claim_to_headers;
  int64_t clock_skew_seconds = 60;  // JwtProvider.clock_skew_seconds: "default to 60 seconds"
};

struct JwtRequirement {
  enum class Kind { kProvider, kRequiresAny, kRequiresAll, kAllowMissing, kAllowMissingOrFailed };
  Kind kind = Kind::kProvider;
  std::string provider_name;                 // kProvider
  std::vector<std::string> audiences;        // kProvider via provider_and_audiences: overrides
  std::vector<JwtRequirement> requirements;  // kRequiresAny / kRequiresAll
};

struct JwtRule {
  bool exact_path = false;  // RouteMatch.path; otherwise RouteMatch.prefix
  std::string path;
  std::optional<JwtRequirement> requirement;  // none: the request is not checked
};

struct JwtAuthnConfig {
  std::map<std::string, JwtProviderConfig, std::less<>> providers;
  std::vector<JwtRule> rules;  // the first that matches applies
  // "http.<prefix>.jwt_authn.allowed" ..., Envoy's JWT_AUTHN_STATS names.
  std::string allowed_stat, denied_stat, jwks_fetch_success_stat, jwks_fetch_failed_stat;
  // Seconds since the epoch; tests replace it.
  std::function<int64_t()> now_seconds;
};

// What checking one provider's token found.
struct JwtProviderOutcome {
  jwt::Status status = jwt::Status::kMissing;
  std::string header;  // the header the token came from (empty: a query parameter)
  jwt::Jwt token;      // parsed (complete when status is kOk)
};

// Extracts and verifies `provider`'s token from `request` (issuer, time, audiences -
// `audiences` when not empty, else the provider's - then the signature with `jwks`, in Envoy's
// order). A null `jwks` (a remote set that could not be fetched) fails with kJwksFetchFail.
JwtProviderOutcome CheckProviderToken(const JwtProviderConfig& provider,
                                      const std::vector<std::string>& audiences,
                                      const http::HeaderMap& request, int64_t now_seconds,
                                      const jwt::Jwks* jwks);

// Whether `request` carries a token where `provider` looks for one.
bool HasProviderToken(const JwtProviderConfig& provider, const http::HeaderMap& request);

std::unique_ptr<FilterFactory> CreateJwtAuthnFilterFactory(
    std::string name, std::shared_ptr<const JwtAuthnConfig> config);

}  // namespace weft::filters
