#include "proxy/config/translate_jwt_authn.h"

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/status.h"
#include "bridge/jwt_authn_json.h"
#include "proxy/config/translate_common.h"

namespace weft::config {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array()) {
    for (const json& s : *it) out.push_back(s.get<std::string>());
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A google.protobuf.Duration in its JSON form ("1.500s"), in milliseconds.
std::optional<std::chrono::milliseconds> JsonDuration(const json& value) {
  if (!value.is_string()) return std::nullopt;
  std::string text = value.get<std::string>();
  if (text.empty() || text.back() != 's') return std::nullopt;
  text.pop_back();
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || seconds < 0) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000 + 0.5));
}

absl::StatusOr<std::shared_ptr<const filters::RemoteJwks>> TranslateRemoteJwks(
    const json& r, std::string_view path) {
  auto out = std::make_shared<filters::RemoteJwks>();
  const json http_uri = r.value("http_uri", json::object());
  const std::string u_path = FieldPath(path, "http_uri");
  out->cluster = Str(http_uri, "cluster");
  if (out->cluster.empty()) return ConfigError(FieldPath(u_path, "cluster"), "is required");
  // As in Envoy, the URI gives the request's authority and path; the connection, TLS included
  // (an https:// JWKS server needs the cluster's UpstreamTlsContext), is the cluster's business.
  const std::string uri = Str(http_uri, "uri");
  std::string rest;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (uri.rfind(scheme, 0) == 0) rest = uri.substr(scheme.size());
  }
  if (rest.empty()) {
    return ConfigError(FieldPath(u_path, "uri"), "must be an http:// or https:// URL, got '", uri,
                       "'");
  }
  const size_t slash = rest.find('/');
  out->authority = rest.substr(0, slash);
  out->path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (out->authority.empty()) return ConfigError(FieldPath(u_path, "uri"), "has no host");
  if (http_uri.contains("timeout")) {
    auto t = JsonDuration(http_uri["timeout"]);
    if (!t) return ConfigError(FieldPath(u_path, "timeout"), "is not a duration");
    out->timeout = *t;
  }
  if (r.contains("cache_duration")) {
    auto d = JsonDuration(r["cache_duration"]);
    if (!d) return ConfigError(FieldPath(path, "cache_duration"), "is not a duration");
    out->cache_duration = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }
  return std::shared_ptr<const filters::RemoteJwks>(std::move(out));
}

absl::StatusOr<filters::JwtProviderConfig> TranslateProvider(const json& p, std::string_view path) {
  filters::JwtProviderConfig out;
  out.issuer = Str(p, "issuer");
  out.audiences = Strings(p, "audiences");
  if (p.contains("remote_jwks")) {
    ASSIGN_OR_RETURN(out.remote_jwks,
                     TranslateRemoteJwks(p["remote_jwks"], FieldPath(path, "remote_jwks")));
  } else if (!p.contains("local_jwks")) {
    return ConfigError(path, "needs local_jwks or remote_jwks");
  }
  const json& source = p.contains("local_jwks") ? p["local_jwks"] : json::object();
  std::string text = Str(source, "inline_string");
  if (text.empty() && source.contains("inline_bytes")) {
    // JSON carries bytes as base64 (proto3 JSON mapping); a JWKS is text, so ask for
    // inline_string rather than decoding here.
    return ConfigError(FieldPath(path, "local_jwks.inline_bytes"), "use inline_string for a JWKS");
  }
  if (!out.remote_jwks) {
    auto jwks = jwt::ParseJwks(text);
    if (!jwks.ok()) return ConfigError(FieldPath(path, "local_jwks"), jwks.status().message());
    out.jwks = *std::move(jwks);
  }
  out.forward = p.value("forward", false);
  if (auto it = p.find("from_headers"); it != p.end()) {
    int i = 0;
    for (const json& h : *it) {
      if (Str(h, "name").empty()) {
        return ConfigError(FieldPath(IndexPath(path, "from_headers", i), "name"), "is required");
      }
      out.from_headers.push_back({Lower(Str(h, "name")), Str(h, "value_prefix")});
      ++i;
    }
  }
  out.from_params = Strings(p, "from_params");
  out.forward_payload_header = Lower(Str(p, "forward_payload_header"));
  out.payload_in_metadata = Str(p, "payload_in_metadata");
  if (auto it = p.find("claim_to_headers"); it != p.end()) {
    int i = 0;
    for (const json& c : *it) {
      const std::string c_path = IndexPath(path, "claim_to_headers", i++);
      if (Str(c, "header_name").empty()) {
        return ConfigError(FieldPath(c_path, "header_name"), "is required");
      }
      if (Str(c, "claim_name").empty()) {
        return ConfigError(FieldPath(c_path, "claim_name"), "is required");
      }
      out.claim_to_headers.push_back({Lower(Str(c, "header_name")), Str(c, "claim_name")});
    }
  }
  if (p.contains("clock_skew_seconds"))
    out.clock_skew_seconds = p["clock_skew_seconds"].get<int64_t>();
  return out;
}

absl::StatusOr<filters::JwtRequirement> TranslateRequirement(
    const json& r, std::string_view path, const filters::JwtAuthnConfig& config) {
  using Kind = filters::JwtRequirement::Kind;
  filters::JwtRequirement out;
  auto provider = [&](const std::string& name, std::string_view p) -> absl::Status {
    if (!config.providers.contains(name)) {
      return ConfigError(p, "names no provider: '", name, "'");
    }
    out.kind = Kind::kProvider;
    out.provider_name = name;
    return absl::OkStatus();
  };
  if (r.contains("provider_name")) {
    RETURN_IF_ERROR(provider(Str(r, "provider_name"), FieldPath(path, "provider_name")));
  } else if (r.contains("provider_and_audiences")) {
    const json& pa = r["provider_and_audiences"];
    RETURN_IF_ERROR(provider(Str(pa, "provider_name"),
                             FieldPath(path, "provider_and_audiences.provider_name")));
    out.audiences = Strings(pa, "audiences");
  } else if (r.contains("requires_any") || r.contains("requires_all")) {
    const bool any = r.contains("requires_any");
    out.kind = any ? Kind::kRequiresAny : Kind::kRequiresAll;
    const std::string list_path = FieldPath(path, any ? "requires_any" : "requires_all");
    const json& list = r[any ? "requires_any" : "requires_all"];
    int i = 0;
    const json children = list.value("requirements", json::array());
    for (const json& child : children) {
      ASSIGN_OR_RETURN(
          auto c, TranslateRequirement(child, IndexPath(list_path, "requirements", i++), config));
      out.requirements.push_back(std::move(c));
    }
    if (out.requirements.size() < 2) {
      // JwtRequirementOrList / AndList: "repeated JwtRequirement requirements = 1 [min_items: 2]".
      return ConfigError(FieldPath(list_path, "requirements"), "needs at least 2 requirements");
    }
  } else if (r.contains("allow_missing")) {
    out.kind = Kind::kAllowMissing;
  } else if (r.contains("allow_missing_or_failed")) {
    out.kind = Kind::kAllowMissingOrFailed;
  } else {
    return ConfigError(path,
                       "needs one of provider_name, provider_and_audiences, requires_any, "
                       "requires_all, allow_missing, allow_missing_or_failed");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const filters::JwtAuthnConfig>> TranslateJwtAuthn(
    const google::protobuf::Any& typed_config, std::string_view http_stat_prefix,
    std::string_view path) {
  const std::string text = api::JwtAuthenticationToJson(typed_config);
  if (text.empty()) {
    return ConfigError(path,
                       "cannot decode envoy.extensions.filters.http.jwt_authn.v3."
                       "JwtAuthentication");
  }
  const json doc = json::parse(text);
  auto out = std::make_shared<filters::JwtAuthnConfig>();
  out->allowed_stat = std::string(http_stat_prefix) + "jwt_authn.allowed";
  out->denied_stat = std::string(http_stat_prefix) + "jwt_authn.denied";
  out->jwks_fetch_success_stat = std::string(http_stat_prefix) + "jwt_authn.jwks_fetch_success";
  out->jwks_fetch_failed_stat = std::string(http_stat_prefix) + "jwt_authn.jwks_fetch_failed";
  // Named, not temporaries: a range-for over a temporary's items() would dangle.
  const json providers = doc.value("providers", json::object());
  const json rules = doc.value("rules", json::array());
  for (const auto& [name, p] : providers.items()) {
    ASSIGN_OR_RETURN(auto provider,
                     TranslateProvider(p, Cat(FieldPath(path, "providers"), "[", name, "]")));
    out->providers.emplace(name, std::move(provider));
  }
  int i = 0;
  for (const json& rule : rules) {
    const std::string r_path = IndexPath(path, "rules", i++);
    filters::JwtRule r;
    const json match = rule.value("match", json::object());
    for (const auto& [key, value] : match.items()) {
      if (key == "prefix") {
        r.path = value.get<std::string>();
      } else if (key == "path") {
        r.path = value.get<std::string>();
        r.exact_path = true;
      } else {
        return ConfigError(FieldPath(FieldPath(r_path, "match"), key),
                           "not supported in a jwt_authn rule (use prefix or path)");
      }
    }
    if (!match.contains("prefix") && !match.contains("path")) {
      return ConfigError(FieldPath(r_path, "match"), "needs prefix or path");
    }
    if (rule.contains("requires")) {
      ASSIGN_OR_RETURN(r.requirement,
                       TranslateRequirement(rule["requires"], FieldPath(r_path, "requires"), *out));
    }
    out->rules.push_back(std::move(r));
  }
  return std::shared_ptr<const filters::JwtAuthnConfig>(std::move(out));
}

}  // namespace weft::config
