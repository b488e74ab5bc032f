#include "proxy/filters/jwt_authn.h"

#include <chrono>
#include <set>

#include "absl/strings/match.h"

namespace weft::filters {
namespace {

using jwt::Status;

// Envoy's JwtProvider defaults when neither from_headers nor from_params is set
// (jwt_authn config.proto, JwtProvider.from_headers / from_params).
constexpr std::string_view kDefaultHeader = "authorization";
constexpr std::string_view kDefaultPrefix = "Bearer ";
constexpr std::string_view kDefaultParam = "access_token";

constexpr std::string_view kIstioAuthn = "istio_authn";
constexpr std::string_view kJwtAuthnNamespace = "envoy.filters.http.jwt_authn";

struct FoundToken {
  std::string value;
  std::string header;  // empty for a query parameter
};

std::optional<std::string> QueryParam(std::string_view path, std::string_view name) {
  const size_t q = path.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = path.substr(q + 1);
  if (const size_t hash = query.find('#'); hash != std::string_view::npos) {
    query = query.substr(0, hash);
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<FoundToken> FromHeader(const http::HeaderMap& request, std::string_view name,
                                     std::string_view prefix, bool prefix_any_case) {
  const std::string* value = request.Get(name);
  if (value == nullptr) return std::nullopt;
  std::string_view v = *value;
  if (!prefix.empty()) {
    const absl::string_view av(v.data(), v.size());
    const absl::string_view ap(prefix.data(), prefix.size());
    const bool has =
        prefix_any_case ? absl::StartsWithIgnoreCase(av, ap) : absl::StartsWith(av, ap);
    if (!has) return std::nullopt;
    v.remove_prefix(prefix.size());
  }
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.empty()) return std::nullopt;
  return FoundToken{std::string(v), std::string(name)};
}

std::optional<FoundToken> ExtractToken(const JwtProviderConfig& provider,
                                       const http::HeaderMap& request) {
  if (provider.from_headers.empty() && provider.from_params.empty()) {
    // RFC 6750 section 2.1: the scheme name is case-insensitive.
    if (auto t = FromHeader(request, kDefaultHeader, kDefaultPrefix, true)) return t;
    if (auto p = QueryParam(request.Path(), kDefaultParam)) return FoundToken{*p, ""};
    return std::nullopt;
  }
  for (const auto& location : provider.from_headers) {
    if (auto t = FromHeader(request, location.name, location.value_prefix, false)) return t;
  }
  for (const std::string& param : provider.from_params) {
    if (auto p = QueryParam(request.Path(), param)) return FoundToken{*p, ""};
  }
  return std::nullopt;
}

bool AudienceAllowed(const jwt::Jwt& token, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  for (const std::string& a : token.audiences) {
    for (const std::string& b : allowed) {
      if (a == b) return true;
    }
  }
  return false;
}

// A claim as header / metadata text: strings as they are, other scalars as JSON.
std::string ClaimText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

const nlohmann::json* FindClaim(const nlohmann::json& payload, std::string_view path) {
  const nlohmann::json* at = &payload;
  while (true) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string_view::npos) return at;
    path.remove_prefix(dot + 1);
  }
}

void CollectProviders(const JwtRequirement& r, std::set<std::string_view>& out) {
  if (r.kind == JwtRequirement::Kind::kProvider) out.insert(r.provider_name);
  for (const JwtRequirement& child : r.requirements) CollectProviders(child, out);
}

using Outcomes = std::map<std::string_view, JwtProviderOutcome>;

// Envoy's verifier tree (source/extensions/filters/http/jwt_authn/verifier.cc): a provider
// passes with a valid token; requires_any passes if one child does, else fails with the last
// failure that is not "missing"; allow_missing passes when no token of the rule's providers was
// presented; allow_missing_or_failed always passes.
Status Evaluate(const JwtRequirement& r, const Outcomes& outcomes) {
  switch (r.kind) {
    case JwtRequirement::Kind::kProvider:
      return outcomes.at(r.provider_name).status;
    case JwtRequirement::Kind::kAllowMissingOrFailed:
      return Status::kOk;
    case JwtRequirement::Kind::kAllowMissing:
      for (const auto& [name, outcome] : outcomes) {
        if (outcome.status != Status::kMissing) return outcome.status;
      }
      return Status::kOk;
    case JwtRequirement::Kind::kRequiresAny: {
      Status failure = Status::kMissing;
      for (const JwtRequirement& child : r.requirements) {
        const Status s = Evaluate(child, outcomes);
        if (s == Status::kOk) return s;
        if (s != Status::kMissing) failure = s;
      }
      return failure;
    }
    case JwtRequirement::Kind::kRequiresAll:
      for (const JwtRequirement& child : r.requirements) {
        const Status s = Evaluate(child, outcomes);
        if (s != Status::kOk) return s;
      }
      return Status::kOk;
  }
  return Status::kVerificationFail;
}

const JwtRule* MatchRule(const JwtAuthnConfig& config, std::string_view path) {
  const std::string_view without_query = path.substr(0, path.find('?'));
  for (const JwtRule& rule : config.rules) {
    if (rule.exact_path ? without_query == rule.path
                        : absl::StartsWith(absl::string_view(path.data(), path.size()),
                                           absl::string_view(rule.path.data(), rule.path.size()))) {
      return &rule;
    }
  }
  return nullptr;
}

void WriteMetadata(const JwtProviderConfig& provider, const jwt::Jwt& token,
                   access_log::StreamInfo& info) {
  // Istio's authn filter keys (the attributes AuthorizationPolicy's requestPrincipals and
  // request.auth.* conditions read).
  auto& istio = info.dynamic_metadata[std::string(kIstioAuthn)];
  istio["request.auth.principal"] = {token.iss + "/" + token.sub};
  istio["request.auth.audiences"] = token.audiences;
  if (auto azp = token.payload.find("azp"); azp != token.payload.end() && azp->is_string()) {
    istio["request.auth.presenter"] = {azp->get<std::string>()};
  }
  for (const auto& [claim, value] : token.payload.items()) {
    std::vector<std::string> values;
    if (value.is_array()) {
      for (const auto& v : value) values.push_back(ClaimText(v));
    } else {
      values.push_back(ClaimText(value));
    }
    istio["request.auth.claims." + claim] = std::move(values);
  }
  if (!provider.payload_in_metadata.empty()) {
    info.dynamic_metadata[std::string(kJwtAuthnNamespace)][provider.payload_in_metadata] = {
        token.payload.dump()};
  }
}

void ApplyVerified(const JwtProviderConfig& provider, const JwtProviderOutcome& outcome,
                   http::HeaderMap& headers, access_log::StreamInfo& info) {
  if (!provider.forward && !outcome.header.empty()) headers.Remove(outcome.header);
  if (!provider.forward_payload_header.empty()) {
    headers.Set(provider.forward_payload_header, outcome.token.payload_base64url);
  }
  for (const auto& c : provider.claim_to_headers) {
    if (const nlohmann::json* v = FindClaim(outcome.token.payload, c.claim_name)) {
      if (v->is_string() || v->is_number() || v->is_boolean()) {
        headers.Set(c.header_name, ClaimText(*v));
      }
    }
  }
  WriteMetadata(provider, outcome.token, info);
}

class JwtAuthnFilter : public StreamFilter {
 public:
  JwtAuthnFilter(FilterCallbacks& callbacks, const JwtAuthnConfig& config, std::string_view)
      : callbacks_(callbacks), config_(config) {}
  ~JwtAuthnFilter() override { *alive_ = false; }

  FilterStatus DecodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    rule_ = MatchRule(config_, headers.Path());
    if (rule_ == nullptr || !rule_->requirement) return FilterStatus::kContinue;
    headers_ = &headers;
    std::set<std::string_view> names;
    CollectProviders(*rule_->requirement, names);
    // Each provider's key set; a remote one is fetched only when a token needs it.
    starting_ = true;
    for (std::string_view name : names) {
      const JwtProviderConfig& provider = config_.providers.find(name)->second;
      if (!provider.remote_jwks) {
        jwks_[name] = provider.jwks;
      } else if (HasProviderToken(provider, headers)) {
        jwks_[name] = provider.remote_jwks->Fresh(std::chrono::steady_clock::now());
        if (!jwks_[name]) Fetch(name, provider.remote_jwks);
      }
    }
    starting_ = false;
    if (pending_ > 0) return FilterStatus::kStopIteration;
    return Decide();
  }

  void EncodeHeaders(http::HeaderMap& headers, bool /*end_stream*/) override {
    if (realm_.empty()) return;
    // RFC 6750 section 3: no error code when the request carried no token.
    headers.Set("www-authenticate",
                "Bearer realm=\"" + realm_ + "\"" + (missing_ ? "" : ", error=\"invalid_token\""));
    realm_.clear();
  }

  void OnDestroy() override { *alive_ = false; }

 private:
  void Fetch(std::string_view name, std::shared_ptr<const RemoteJwks> remote) {
    auto request = std::make_unique<http::HeaderMap>();
    request->Add(":method", "GET");
    request->Add(":scheme", "http");
    request->Add(":authority", remote->authority);
    request->Add(":path", remote->path);
    ++pending_;
    const RemoteJwks& r = *remote;
    callbacks_.FetchFromCluster(
        r.cluster, std::move(request), r.timeout,
        [this, alive = alive_, name, remote = std::move(remote)](std::optional<std::string> body) {
          std::shared_ptr<const jwt::Jwks> jwks;
          if (body) {
            auto parsed = jwt::ParseJwks(*body);
            if (parsed.ok()) {
              jwks = *std::move(parsed);
              remote->Store(jwks, std::chrono::steady_clock::now());
            }
          }
          if (!*alive) return;  // the stream ended while the set was fetched: cached all the same
          callbacks_.stats()
              .counter(jwks ? config_.jwks_fetch_success_stat : config_.jwks_fetch_failed_stat)
              .Inc();
          jwks_[name] = std::move(jwks);
          if (--pending_ > 0 || starting_) return;
          if (Decide() == FilterStatus::kContinue) callbacks_.ContinueDecoding();
        });
  }

  FilterStatus Decide() {
    const JwtRequirement& requirement = *rule_->requirement;
    http::HeaderMap& headers = *headers_;
    const int64_t now = config_.now_seconds
                            ? config_.now_seconds()
                            : std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    std::set<std::string_view> names;
    CollectProviders(requirement, names);
    Outcomes outcomes;
    for (std::string_view name : names) {
      const JwtProviderConfig& provider = config_.providers.find(name)->second;
      auto jwks = jwks_.find(name);
      outcomes.emplace(name,
                       CheckProviderToken(provider, AudiencesFor(requirement, name), headers, now,
                                          jwks == jwks_.end() ? nullptr : jwks->second.get()));
    }
    const Status status = Evaluate(requirement, outcomes);
    if (status != Status::kOk) {
      callbacks_.stats().counter(config_.denied_stat).Inc();
      realm_ = std::string(headers.Scheme().empty() ? "http" : headers.Scheme()) + "://" +
               std::string(headers.Authority()) +
               std::string(headers.Path().substr(0, headers.Path().find('?')));
      missing_ = status == Status::kMissing;
      const std::string_view message = jwt::StatusMessage(status);
      std::string details = "jwt_authn_access_denied{" + std::string(message) + "}";
      for (char& c : details) {
        if (c == ' ') c = '_';
      }
      // Envoy answers 403 for a token whose audience is not allowed, 401 for the rest.
      callbacks_.SendLocalReply(status == Status::kAudienceNotAllowed ? 403 : 401, message, details,
                                0);
      return FilterStatus::kLocalReplySent;
    }
    callbacks_.stats().counter(config_.allowed_stat).Inc();
    for (auto& [name, outcome] : outcomes) {
      if (outcome.status != Status::kOk) continue;
      ApplyVerified(config_.providers.find(name)->second, outcome, headers, callbacks_.info());
    }
    return FilterStatus::kContinue;
  }

  // provider_and_audiences overrides the provider's audiences for that requirement.
  static std::vector<std::string> AudiencesFor(const JwtRequirement& r, std::string_view name) {
    if (r.kind == JwtRequirement::Kind::kProvider && r.provider_name == name) return r.audiences;
    for (const JwtRequirement& child : r.requirements) {
      auto a = AudiencesFor(child, name);
      if (!a.empty()) return a;
    }
    return {};
  }

  FilterCallbacks& callbacks_;
  const JwtAuthnConfig& config_;
  const JwtRule* rule_ = nullptr;
  http::HeaderMap* headers_ = nullptr;  // the stream's request headers, held while fetching
  // Each provider's key set for this request (null: a remote set that could not be fetched).
  std::map<std::string_view, std::shared_ptr<const jwt::Jwks>> jwks_;
  int pending_ = 0;        // remote fetches not answered yet
  bool starting_ = false;  // inside DecodeHeaders: a fetch answered at once must not decide
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string realm_;  // set when the request was refused
  bool missing_ = false;
};

}  // namespace

bool HasProviderToken(const JwtProviderConfig& provider, const http::HeaderMap& request) {
  return ExtractToken(provider, request).has_value();
}

JwtProviderOutcome CheckProviderToken(const JwtProviderConfig& provider,
                                      const std::vector<std::string>& audiences,
                                      const http::HeaderMap& request, int64_t now_seconds,
                                      const jwt::Jwks* jwks) {
  JwtProviderOutcome out;
  auto found = ExtractToken(provider, request);
  if (!found) return out;  // kMissing
  out.header = std::move(found->header);
  out.status = jwt::ParseJwt(found->value, out.token);
  if (out.status != Status::kOk) return out;
  if (!provider.issuer.empty() && out.token.iss != provider.issuer) {
    out.status = Status::kUnknownIssuer;
  } else if ((out.status = jwt::CheckTime(out.token, now_seconds, provider.clock_skew_seconds)) !=
             Status::kOk) {
  } else if (!AudienceAllowed(out.token, audiences.empty() ? provider.audiences : audiences)) {
    out.status = Status::kAudienceNotAllowed;
  } else if (jwks == nullptr) {
    out.status = Status::kJwksFetchFail;
  } else {
    out.status = jwt::VerifySignature(out.token, *jwks);
  }
  return out;
}

std::unique_ptr<FilterFactory> CreateJwtAuthnFilterFactory(
    std::string name, std::shared_ptr<const JwtAuthnConfig> config) {
  return std::make_unique<TypedFilterFactory<JwtAuthnFilter, JwtAuthnConfig>>(std::move(name),
                                                                              std::move(config));
}

}  // namespace weft::filters
