// Helpers shared by the translate_*.cc files: Envoy's common messages (durations, addresses,
// matchers, header edits, access logs) to Weft's plain structs, with errors that carry the field
// path. Config-boundary only: includes generated protobuf headers. Stateless; thread-safe.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/repeated_field.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "envoy/config/accesslog/v3/accesslog.pb.h"
#include "envoy/config/core/v3/address.pb.h"
#include "envoy/config/core/v3/base.pb.h"
#include "envoy/config/core/v3/protocol.pb.h"
#include "envoy/config/core/v3/substitution_format_string.pb.h"
#include "envoy/config/route/v3/route_components.pb.h"
#include "envoy/type/matcher/v3/regex.pb.h"
#include "envoy/type/matcher/v3/string.pb.h"
#include "proxy/config/known_extensions.h"
#include "proxy/config/text.h"
#include "proxy/listener/listener_config.h"
#include "proxy/router/route_config.h"

namespace re2 {
class RE2;
}

namespace weft::config {

// "a.b" + "c" -> "a.b.c"; an empty base yields just the field.
std::string FieldPath(std::string_view base, std::string_view field);
std::string IndexPath(std::string_view base, std::string_view field, int index);

// InvalidArgument("<path>: <message...>").
template <typename... Args>
absl::Status ConfigError(std::string_view path, const Args&... message) {
  return absl::InvalidArgumentError(Cat(path, ": ", message...));
}

std::chrono::milliseconds ToMilliseconds(const google::protobuf::Duration& d);

// The extension a typed_config wrapped in a TypedStruct (xds.type.v3.TypedStruct, or the older
// udpa.type.v1.TypedStruct: the same two fields type_url = 1, value = 2) names: its inner
// message name, or "" when `any` is no TypedStruct or cannot be decoded.
std::string TypedStructInnerType(const google::protobuf::Any& any);

bool IsIpLiteral(const std::string& address);

// SocketAddress -> (address, port). TCP only unless `allow_udp` (listeners may be UDP).
struct HostPort {
  std::string address;
  uint32_t port = 0;
  bool udp = false;
};
absl::StatusOr<HostPort> TranslateSocketAddress(const envoy::config::core::v3::Address& address,
                                                std::string_view path, bool allow_udp = false);

// RE2 compile with its error text on failure.
absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(
    const envoy::type::matcher::v3::RegexMatcher& regex, std::string_view path);
absl::StatusOr<router::RegexRewrite> TranslateRegexRewrite(
    const envoy::type::matcher::v3::RegexMatchAndSubstitute& rewrite, std::string_view path);

absl::StatusOr<router::StringMatcher> TranslateStringMatcher(
    const envoy::type::matcher::v3::StringMatcher& matcher, std::string_view path);
absl::StatusOr<router::HeaderMatcher> TranslateHeaderMatcher(
    const envoy::config::route::v3::HeaderMatcher& matcher, std::string_view path);

// CidrRange: the prefix must be an IP literal and prefix_len fit its family.
absl::StatusOr<listener::CidrRange> TranslateCidr(const envoy::config::core::v3::CidrRange& c,
                                                  std::string_view path);

absl::StatusOr<std::vector<router::HeaderValueOption>> TranslateHeadersToAdd(
    const google::protobuf::RepeatedPtrField<envoy::config::core::v3::HeaderValueOption>& headers,
    std::string_view path);

// The four header-edit fields exist with the same names on RouteConfiguration, VirtualHost,
// Route and WeightedCluster.ClusterWeight.
template <typename Proto>
absl::StatusOr<router::HeaderMutations> TranslateHeaderMutations(const Proto& proto,
                                                                 std::string_view path);

// A substitution format string: text_format / text_format_source as `text`, json_format as
// (key, format) pairs in `json` (flat string values only).
struct Format {
  std::string text;
  std::vector<std::pair<std::string, std::string>> json;
  std::string content_type;
};
absl::StatusOr<Format> TranslateFormat(
    const envoy::config::core::v3::SubstitutionFormatString& format, std::string_view path);

// envoy.config.core.v3.Http2ProtocolOptions (listener or cluster), ranges as protocol.proto
// validates them.
absl::StatusOr<http::Http2Options> TranslateHttp2Options(
    const envoy::config::core::v3::Http2ProtocolOptions& options, std::string_view path);

absl::StatusOr<std::string> TranslateDataSource(const envoy::config::core::v3::DataSource& source,
                                                std::string_view path);

absl::StatusOr<std::vector<listener::AccessLogConfig>> TranslateAccessLogs(
    const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>& logs,
    std::string_view path);

// Resolves a typed_config Any (or, when absent, the name alone) to a known extension of `kind`;
// refuses unknown extensions and extensions of another kind, naming them.
absl::StatusOr<const KnownExtension*> ResolveExtension(std::string_view name,
                                                       const google::protobuf::Any* typed_config,
                                                       ExtensionKind kind, std::string_view path);

// Registers every known extension's config message in the generated descriptor pool (and so
// links it into the binary: the proto library is static), so typed_config Any values resolve.
// Idempotent, cheap after the first call, thread-safe.
void LinkExtensionTypes();

// Any -> concrete message, with the path in the error.
template <typename Proto>
absl::StatusOr<Proto> Unpack(const google::protobuf::Any& any, std::string_view path) {
  Proto out;
  if (!any.UnpackTo(&out)) {
    return ConfigError(path, "cannot decode ", Proto::descriptor()->full_name());
  }
  return out;
}

// --- template definitions ---

template <typename Proto>
absl::StatusOr<router::HeaderMutations> TranslateHeaderMutations(const Proto& proto,
                                                                 std::string_view path) {
  router::HeaderMutations out;
  auto request = TranslateHeadersToAdd(proto.request_headers_to_add(),
                                       FieldPath(path, "request_headers_to_add"));
  if (!request.ok()) return request.status();
  out.request_headers_to_add = std::move(*request);
  auto response = TranslateHeadersToAdd(proto.response_headers_to_add(),
                                        FieldPath(path, "response_headers_to_add"));
  if (!response.ok()) return response.status();
  out.response_headers_to_add = std::move(*response);
  for (const std::string& name : proto.request_headers_to_remove()) {
    out.request_headers_to_remove.push_back(absl::AsciiStrToLower(name));
  }
  for (const std::string& name : proto.response_headers_to_remove()) {
    out.response_headers_to_remove.push_back(absl::AsciiStrToLower(name));
  }
  return out;
}

}  // namespace weft::config
