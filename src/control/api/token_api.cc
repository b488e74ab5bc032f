#include "control/api/token_api.h"

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "control/api/api_status.h"
#include "control/model/formats.h"

namespace weft::control {
namespace {

constexpr std::string_view kPrefix = "/apis/weft.io/v1/namespaces/";
constexpr const char kJson[] = "application/json";
// Kubernetes' TokenRequest defaults to one hour; a proxy's token is long-lived (the identity
// agent re-reads the file, it does not renew it), so a year, as the contract of issue 6 says.
constexpr int64_t kDefaultExpirationSeconds = 365LL * 24 * 3600;

// ".../namespaces/<ns>/serviceaccounts/<sa>/token" -> {ns, sa}; false for any other shape.
bool ParsePath(std::string_view path, std::string* ns, std::string* sa) {
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  path.remove_prefix(kPrefix.size());
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    parts.push_back(
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 4 || parts[1] != "serviceaccounts" || parts[3] != "token") return false;
  *ns = std::string(parts[0]);
  *sa = std::string(parts[2]);
  return true;
}

void Reply(HttpExchange& exchange, const ApiError& e) {
  exchange.Respond(e.code, kJson, e.status.dump());
}

}  // namespace

bool TokenApi::Serves(const HttpRequest& request) {
  std::string ns, sa;
  return ParsePath(request.path, &ns, &sa);
}

void TokenApi::Handle(const HttpRequest& request, HttpExchange& exchange) {
  std::string ns, sa;
  if (!ParsePath(request.path, &ns, &sa)) return Reply(exchange, UnknownPath());
  if (request.method != "POST") return Reply(exchange, MethodNotAllowed());
  if (!IsDns1123Label(ns) || !IsDns1123Subdomain(sa)) {
    return Reply(exchange, BadRequest("namespace and service account must be DNS-1123 names"));
  }
  int64_t expiration = kDefaultExpirationSeconds;
  if (!request.body.empty()) {
    nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object())
      return Reply(exchange, BadRequest("the request body is not a JSON object"));
    for (const auto& [key, value] : body.items()) {
      if (key != "expirationSeconds") {
        return Reply(exchange, BadRequest("unknown field \"" + key + "\""));
      }
      if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
        return Reply(exchange, BadRequest("expirationSeconds must be a positive integer"));
      }
      expiration = value.get<int64_t>();
    }
  }
  const std::string token = tokens_.Issue({ns, sa}, std::chrono::seconds(expiration));
  exchange.Respond(201, kJson, nlohmann::json{{"token", token}}.dump());
}

}  // namespace weft::control
