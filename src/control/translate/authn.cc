// RequestAuthentication -> envoy.filters.http.jwt_authn on a sidecar's inbound HTTP chains, as
// Istio's authn builder does (pilot/pkg/security/authn/policy_applier.go): one provider per
// jwtRule (named after its issuer), and one rule for every path requiring any provider or
// allow_missing, so a request without a token passes (an AuthorizationPolicy on
// requestPrincipals is what rejects it) while a bad token is refused with 401.
// jwksUri becomes remote_jwks fetched through a cluster "outbound|<port>||<host>" (Istio's name
// when the JWKS host is a service); jwks an inline local_jwks.
#include <map>

#include "absl/strings/str_cat.h"
#include "control/translate/internal.h"
#include "control/translate/jwt_authn_config.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"

namespace weft::control::translate::internal {
namespace {

namespace cluster_pb = envoy::config::cluster::v3;

struct Uri {
  bool https = false;
  std::string host;
  uint32_t port = 0;
};

std::optional<Uri> ParseUri(const std::string& uri) {
  Uri u;
  std::string rest;
  if (uri.rfind("https://", 0) == 0) {
    u.https = true;
    rest = uri.substr(8);
  } else if (uri.rfind("http://", 0) == 0) {
    rest = uri.substr(7);
  } else {
    return std::nullopt;
  }
  const std::string authority = rest.substr(0, rest.find('/'));
  const size_t colon = authority.rfind(':');
  u.host = authority.substr(0, colon);
  u.port = u.https ? 443 : 80;
  if (colon != std::string::npos) {
    u.port = static_cast<uint32_t>(std::strtoul(authority.substr(colon + 1).c_str(), nullptr, 10));
  }
  if (u.host.empty() || u.port == 0 || u.port > 65535) return std::nullopt;
  return u;
}

std::string JwksCluster(const Uri& u) { return OutboundClusterName(u.port, "", u.host); }

std::string ProviderName(const json& rule, size_t index) {
  const std::string issuer = Str(rule, "issuer");
  return issuer.empty() ? absl::StrCat("origins-", index) : issuer;
}

}  // namespace

void AddJwtAuthn(
    const View& view,
    envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager& m) {
  // Built as proto JSON (field names as in envoy/extensions/filters/http/jwt_authn/v3/
  // config.proto) and packed by jwt_authn_config.cc: see jwt_authn_config.h.
  json providers = json::object();
  json requirements = json::array();
  size_t index = 0;
  for (const Config& ra : view.request_authentications()) {
    const json& rules = Arr(ra.spec, "jwtRules");
    for (size_t i = 0; i < rules.size(); ++i, ++index) {
      const json& r = rules[i];
      const std::string where = absl::StrCat(ra.Id(), ": jwtRules[", i, "]");
      const std::string name = ProviderName(r, index);
      if (providers.contains(name)) continue;  // the same issuer twice: the older rule wins
      json p = {{"issuer", Str(r, "issuer")}};
      json audiences = json::array();
      for (const json& a : Arr(r, "audiences")) {
        if (a.is_string()) audiences.push_back(a);
      }
      if (!audiences.empty()) p["audiences"] = audiences;
      if (const std::string jwks = Str(r, "jwks"); !jwks.empty()) {
        p["local_jwks"] = {{"inline_string", jwks}};
      } else if (const std::string uri = Str(r, "jwksUri"); !uri.empty()) {
        const auto u = ParseUri(uri);
        if (!u) {
          view.Warn(absl::StrCat(where, ": jwksUri '", uri, "' is no http(s) URL (rule skipped)"));
          continue;
        }
        // Istio's JWKS fetch timeout (5 s); Envoy's default cache_duration (5 min).
        p["remote_jwks"] = {
            {"http_uri", {{"uri", uri}, {"cluster", JwksCluster(*u)}, {"timeout", "5s"}}},
            {"cache_duration", "300s"}};
      } else {
        view.Warn(absl::StrCat(where,
                               ": neither jwks nor jwksUri (discovery from the issuer "
                               "is not supported; rule skipped)"));
        continue;
      }
      json from_headers = json::array();
      for (const json& h : Arr(r, "fromHeaders")) {
        from_headers.push_back({{"name", Str(h, "name")}, {"value_prefix", Str(h, "prefix")}});
      }
      if (!from_headers.empty()) p["from_headers"] = from_headers;
      json from_params = json::array();
      for (const json& q : Arr(r, "fromParams")) {
        if (q.is_string()) from_params.push_back(q);
      }
      if (!from_params.empty()) p["from_params"] = from_params;
      if (!Arr(r, "fromCookies").empty()) {
        view.Warn(absl::StrCat(where, ": fromCookies: not supported (ignored)"));
      }
      if (r.contains("forwardOriginalToken") && r["forwardOriginalToken"].is_boolean()) {
        p["forward"] = r["forwardOriginalToken"];
      }
      if (const std::string h = Str(r, "outputPayloadToHeader"); !h.empty()) {
        p["forward_payload_header"] = h;
      }
      json claims = json::array();
      for (const json& c : Arr(r, "outputClaimToHeaders")) {
        claims.push_back({{"header_name", Str(c, "header")}, {"claim_name", Str(c, "claim")}});
      }
      if (!claims.empty()) p["claim_to_headers"] = claims;
      // Istio keeps the payload in metadata under the issuer for its authn filter.
      p["payload_in_metadata"] = Str(r, "issuer");
      providers[name] = std::move(p);
      requirements.push_back({{"provider_name", name}});
    }
  }
  if (providers.empty()) return;
  requirements.push_back({{"allow_missing", json::object()}});
  const json config = {
      {"providers", providers},
      {"rules",
       json::array({{{"match", {{"prefix", "/"}}},
                     {"requires", {{"requires_any", {{"requirements", requirements}}}}}}})}};
  google::protobuf::Any any;
  std::string error;
  if (!PackJwtAuthentication(config.dump(), any, error)) {
    view.Warn(absl::StrCat("RequestAuthentication: cannot build jwt_authn: ", error));
    return;
  }
  auto* f = m.add_http_filters();
  f->set_name("envoy.filters.http.jwt_authn");
  *f->mutable_typed_config() = std::move(any);
}

void BuildJwksClusters(const View& view, XdsResources& out) {
  if (view.proxy().ports.empty()) return;  // no inbound HTTP chain, no jwt_authn
  std::map<std::string, Uri> wanted;
  for (const Config& ra : view.request_authentications()) {
    for (const json& r : Arr(ra.spec, "jwtRules")) {
      if (!Str(r, "jwks").empty()) continue;
      if (const auto u = ParseUri(Str(r, "jwksUri"))) wanted.emplace(JwksCluster(*u), *u);
    }
  }
  for (const auto& [name, u] : wanted) {
    bool exists = false;
    for (const auto& c : out.clusters) exists |= c.name() == name;
    if (exists) continue;  // a mesh service of that name: its cluster already fetches
    cluster_pb::Cluster c;
    c.set_name(name);
    c.set_type(cluster_pb::Cluster::STRICT_DNS);
    c.set_dns_lookup_family(cluster_pb::Cluster::V4_ONLY);
    c.mutable_connect_timeout()->set_seconds(10);
    auto* la = c.mutable_load_assignment();
    la->set_cluster_name(name);
    auto* sa = la->add_endpoints()
                   ->add_lb_endpoints()
                   ->mutable_endpoint()
                   ->mutable_address()
                   ->mutable_socket_address();
    sa->set_address(u.host);
    sa->set_port_value(u.port);
    if (u.https) {
      envoy::extensions::transport_sockets::tls::v3::UpstreamTlsContext ctx;
      ctx.set_sni(u.host);
      c.mutable_transport_socket()->set_name("envoy.transport_sockets.tls");
      c.mutable_transport_socket()->mutable_typed_config()->PackFrom(ctx);
    }
    out.clusters.push_back(std::move(c));
  }
}

}  // namespace weft::control::translate::internal
