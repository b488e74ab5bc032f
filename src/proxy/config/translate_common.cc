#include "proxy/config/translate_common.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <fstream>
#include <sstream>

#include "base/status.h"
#include "envoy/extensions/access_loggers/file/v3/file.pb.h"
#include "envoy/extensions/access_loggers/stream/v3/stream.pb.h"
#include "envoy/extensions/filters/http/fault/v3/fault.pb.h"
#include "envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.pb.h"
#include "envoy/extensions/filters/listener/original_dst/v3/original_dst.pb.h"
#include "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.pb.h"
#include "envoy/extensions/filters/udp/dns_filter/v3/dns_filter.pb.h"
#include "envoy/extensions/load_balancing_policies/least_request/v3/least_request.pb.h"
#include "envoy/extensions/load_balancing_policies/maglev/v3/maglev.pb.h"
#include "envoy/extensions/load_balancing_policies/random/v3/random.pb.h"
#include "envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.pb.h"
#include "envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.pb.h"
#include "envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.pb.h"
#include "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.pb.h"
#include "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.pb.h"
#include "envoy/extensions/transport_sockets/tls/v3/tls.pb.h"
#include "envoy/extensions/upstreams/http/v3/http_protocol_options.pb.h"
#include "udpa/type/v1/typed_struct.pb.h"
#include "xds/type/v3/typed_struct.pb.h"

// Weft accepts Envoy's deprecated spellings (they are still valid v3 config), so reading them
// here is intended.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace weft::config {

namespace core = envoy::config::core::v3;
namespace matcher = envoy::type::matcher::v3;

void LinkExtensionTypes() {
  // One entry per KnownExtension (known_extensions.cc); a unit test checks they match.
  static const bool linked = [] {
    namespace ext = envoy::extensions;
    const google::protobuf::Descriptor* descriptors[] = {
        ext::filters::network::http_connection_manager::v3::HttpConnectionManager::descriptor(),
        ext::filters::network::tcp_proxy::v3::TcpProxy::descriptor(),
        ext::filters::udp::dns_filter::v3::DnsFilterConfig::descriptor(),
        ext::filters::http::router::v3::Router::descriptor(),
        ext::filters::http::fault::v3::HTTPFault::descriptor(),
        ext::filters::http::local_ratelimit::v3::LocalRateLimit::descriptor(),
        ext::retry::host::previous_hosts::v3::PreviousHostsPredicate::descriptor(),
        ext::filters::listener::tls_inspector::v3::TlsInspector::descriptor(),
        ext::transport_sockets::tls::v3::DownstreamTlsContext::descriptor(),
        ext::transport_sockets::tls::v3::UpstreamTlsContext::descriptor(),
        ext::transport_sockets::raw_buffer::v3::RawBuffer::descriptor(),
        ext::filters::listener::original_dst::v3::OriginalDst::descriptor(),
        ext::filters::listener::http_inspector::v3::HttpInspector::descriptor(),
        ext::access_loggers::file::v3::FileAccessLog::descriptor(),
        ext::access_loggers::stream::v3::StdoutAccessLog::descriptor(),
        ext::access_loggers::stream::v3::StderrAccessLog::descriptor(),
        ext::upstreams::http::v3::HttpProtocolOptions::descriptor(),
        ext::network::dns_resolver::cares::v3::CaresDnsResolverConfig::descriptor(),
        ext::load_balancing_policies::round_robin::v3::RoundRobin::descriptor(),
        ext::load_balancing_policies::least_request::v3::LeastRequest::descriptor(),
        ext::load_balancing_policies::random::v3::Random::descriptor(),
        ext::load_balancing_policies::ring_hash::v3::RingHash::descriptor(),
        ext::load_balancing_policies::maglev::v3::Maglev::descriptor(),
    };
    return descriptors[0] != nullptr;
  }();
  (void)linked;
}

std::string FieldPath(std::string_view base, std::string_view field) {
  return base.empty() ? std::string(field) : Cat(base, ".", field);
}

std::string IndexPath(std::string_view base, std::string_view field, int index) {
  return Cat(FieldPath(base, field), "[", index, "]");
}

std::chrono::milliseconds ToMilliseconds(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

bool IsIpLiteral(const std::string& address) {
  in6_addr buf;
  return inet_pton(AF_INET, address.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &buf) == 1;
}

absl::StatusOr<HostPort> TranslateSocketAddress(const core::Address& address, std::string_view path,
                                                bool allow_udp) {
  if (!address.has_socket_address()) {
    return ConfigError(path, "socket_address is required");
  }
  const core::SocketAddress& sa = address.socket_address();
  const std::string sa_path = FieldPath(path, "socket_address");
  const bool udp = sa.protocol() == core::SocketAddress::UDP;
  if (sa.protocol() != core::SocketAddress::TCP && !(udp && allow_udp)) {
    return ConfigError(FieldPath(sa_path, "protocol"),
                       allow_udp ? "must be TCP or UDP" : "only TCP is supported");
  }
  if (sa.address().empty()) return ConfigError(FieldPath(sa_path, "address"), "is required");
  if (sa.port_value() > 65535) {
    return ConfigError(FieldPath(sa_path, "port_value"), "must be at most 65535");
  }
  return HostPort{sa.address(), sa.port_value(), udp};
}

absl::StatusOr<std::shared_ptr<const re2::RE2>> CompileRegex(const matcher::RegexMatcher& regex,
                                                             std::string_view path) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(regex.regex(), options);
  if (!re->ok()) {
    return ConfigError(FieldPath(path, "regex"), "invalid regex '", regex.regex(),
                       "': ", re->error());
  }
  return re;
}

absl::StatusOr<router::RegexRewrite> TranslateRegexRewrite(
    const matcher::RegexMatchAndSubstitute& rewrite, std::string_view path) {
  auto re = CompileRegex(rewrite.pattern(), FieldPath(path, "pattern"));
  if (!re.ok()) return re.status();
  std::string error;
  if (!(*re)->CheckRewriteString(rewrite.substitution(), &error)) {
    return ConfigError(FieldPath(path, "substitution"), error);
  }
  return router::RegexRewrite{std::move(*re), rewrite.substitution()};
}

absl::StatusOr<router::StringMatcher> TranslateStringMatcher(const matcher::StringMatcher& m,
                                                             std::string_view path) {
  router::StringMatcher out;
  out.ignore_case = m.ignore_case();
  switch (m.match_pattern_case()) {
    case matcher::StringMatcher::kExact:
      out.kind = router::StringMatcher::Kind::kExact;
      out.value = m.exact();
      break;
    case matcher::StringMatcher::kPrefix:
      out.kind = router::StringMatcher::Kind::kPrefix;
      out.value = m.prefix();
      break;
    case matcher::StringMatcher::kSuffix:
      out.kind = router::StringMatcher::Kind::kSuffix;
      out.value = m.suffix();
      break;
    case matcher::StringMatcher::kContains:
      out.kind = router::StringMatcher::Kind::kContains;
      out.value = m.contains();
      break;
    case matcher::StringMatcher::kSafeRegex: {
      out.kind = router::StringMatcher::Kind::kRegex;
      out.value = m.safe_regex().regex();
      auto re = CompileRegex(m.safe_regex(), FieldPath(path, "safe_regex"));
      if (!re.ok()) return re.status();
      out.regex = std::move(*re);
      break;
    }
    default:
      return ConfigError(path,
                         "a string matcher needs exact, prefix, suffix, contains or "
                         "safe_regex");
  }
  return out;
}

absl::StatusOr<router::HeaderMatcher> TranslateHeaderMatcher(
    const envoy::config::route::v3::HeaderMatcher& m, std::string_view path) {
  using Proto = envoy::config::route::v3::HeaderMatcher;
  router::HeaderMatcher out;
  if (m.name().empty()) return ConfigError(FieldPath(path, "name"), "is required");
  out.name = absl::AsciiStrToLower(m.name());
  out.invert_match = m.invert_match();
  out.treat_missing_header_as_empty = m.treat_missing_header_as_empty();
  auto simple = [&](router::StringMatcher::Kind kind, const std::string& value) {
    router::StringMatcher s;
    s.kind = kind;
    s.value = value;
    out.string_match = std::move(s);
  };
  // The deprecated *_match forms are the StringMatcher forms without ignore_case.
  switch (m.header_match_specifier_case()) {
    case Proto::kExactMatch:
      simple(router::StringMatcher::Kind::kExact, m.exact_match());
      break;
    case Proto::kPrefixMatch:
      simple(router::StringMatcher::Kind::kPrefix, m.prefix_match());
      break;
    case Proto::kSuffixMatch:
      simple(router::StringMatcher::Kind::kSuffix, m.suffix_match());
      break;
    case Proto::kContainsMatch:
      simple(router::StringMatcher::Kind::kContains, m.contains_match());
      break;
    case Proto::kSafeRegexMatch: {
      auto re = CompileRegex(m.safe_regex_match(), FieldPath(path, "safe_regex_match"));
      if (!re.ok()) return re.status();
      simple(router::StringMatcher::Kind::kRegex, m.safe_regex_match().regex());
      out.string_match->regex = std::move(*re);
      break;
    }
    case Proto::kStringMatch: {
      auto s = TranslateStringMatcher(m.string_match(), FieldPath(path, "string_match"));
      if (!s.ok()) return s.status();
      out.string_match = std::move(*s);
      break;
    }
    case Proto::kPresentMatch:
      out.present_match = m.present_match();
      break;
    default:  // name only: the header must be present
      break;
  }
  return out;
}

absl::StatusOr<std::vector<router::HeaderValueOption>> TranslateHeadersToAdd(
    const google::protobuf::RepeatedPtrField<core::HeaderValueOption>& headers,
    std::string_view path) {
  using Action = router::HeaderValueOption::AppendAction;
  std::vector<router::HeaderValueOption> out;
  out.reserve(headers.size());
  for (int i = 0; i < headers.size(); ++i) {
    const core::HeaderValueOption& h = headers[i];
    const std::string item_path = Cat(path, "[", i, "]");
    if (h.header().key().empty()) {
      return ConfigError(FieldPath(item_path, "header.key"), "is required");
    }
    router::HeaderValueOption option;
    option.name = absl::AsciiStrToLower(h.header().key());
    option.value = h.header().value();
    option.keep_empty_value = h.keep_empty_value();
    if (h.has_append()) {
      // Envoy refuses both together: append is the deprecated spelling of append_action.
      if (h.append_action() != core::HeaderValueOption::APPEND_IF_EXISTS_OR_ADD) {
        return ConfigError(item_path, "append and append_action are mutually exclusive");
      }
      option.action =
          h.append().value() ? Action::kAppendIfExistsOrAdd : Action::kOverwriteIfExistsOrAdd;
    } else {
      switch (h.append_action()) {
        case core::HeaderValueOption::ADD_IF_ABSENT:
          option.action = Action::kAddIfAbsent;
          break;
        case core::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD:
          option.action = Action::kOverwriteIfExistsOrAdd;
          break;
        case core::HeaderValueOption::OVERWRITE_IF_EXISTS:
          option.action = Action::kOverwriteIfExists;
          break;
        default:
          option.action = Action::kAppendIfExistsOrAdd;
      }
    }
    out.push_back(std::move(option));
  }
  return out;
}

absl::StatusOr<std::string> TranslateDataSource(const core::DataSource& source,
                                                std::string_view path) {
  switch (source.specifier_case()) {
    case core::DataSource::kInlineString:
      return source.inline_string();
    case core::DataSource::kInlineBytes:
      return source.inline_bytes();
    case core::DataSource::kFilename: {
      // Read once, when the config is applied (Envoy also watches the file; Weft does not).
      std::ifstream file(source.filename(), std::ios::binary);
      if (!file)
        return ConfigError(FieldPath(path, "filename"), "cannot read '", source.filename(), "'");
      std::stringstream content;
      content << file.rdbuf();
      return content.str();
    }
    default:
      return ConfigError(path, "needs filename, inline_string or inline_bytes");
  }
}

absl::StatusOr<Format> TranslateFormat(const core::SubstitutionFormatString& format,
                                       std::string_view path) {
  Format out;
  out.content_type = format.content_type();
  switch (format.format_case()) {
    case core::SubstitutionFormatString::kTextFormat:
      out.text = format.text_format();
      break;
    case core::SubstitutionFormatString::kTextFormatSource: {
      auto text =
          TranslateDataSource(format.text_format_source(), FieldPath(path, "text_format_source"));
      if (!text.ok()) return text.status();
      out.text = std::move(*text);
      break;
    }
    case core::SubstitutionFormatString::kJsonFormat:
      for (const auto& [key, value] : format.json_format().fields()) {
        if (!value.has_string_value()) {
          return ConfigError(IndexPath(path, "json_format", 0), "key '", key,
                             "': only string values are supported");
        }
        out.json.emplace_back(key, value.string_value());
      }
      // Struct fields are a map: sort for a deterministic key order.
      std::sort(out.json.begin(), out.json.end());
      break;
    default:
      return ConfigError(path, "needs text_format, text_format_source or json_format");
  }
  return out;
}

std::string TypedStructInnerType(const google::protobuf::Any& any) {
  const std::string_view type = TypeNameFromUrl(any.type_url());
  if (type == "xds.type.v3.TypedStruct") {
    xds::type::v3::TypedStruct typed_struct;
    if (!typed_struct.ParseFromString(any.value())) return {};
    return std::string(TypeNameFromUrl(typed_struct.type_url()));
  }
  if (type == "udpa.type.v1.TypedStruct") {
    // Parsed as its own type (not as the identical xds one) so that its descriptor is linked in
    // and a YAML/JSON config may name it.
    udpa::type::v1::TypedStruct typed_struct;
    if (!typed_struct.ParseFromString(any.value())) return {};
    return std::string(TypeNameFromUrl(typed_struct.type_url()));
  }
  return {};
}

absl::StatusOr<const KnownExtension*> ResolveExtension(std::string_view name,
                                                       const google::protobuf::Any* typed_config,
                                                       ExtensionKind kind, std::string_view path) {
  const KnownExtension* ext = nullptr;
  if (typed_config != nullptr) {
    // An extension without a proto in Weft's tree (Istio's stats.PluginConfig) comes in a
    // TypedStruct: the wrapped type selects it.
    const std::string inner = TypedStructInnerType(*typed_config);
    const std::string_view type =
        inner.empty() ? TypeNameFromUrl(typed_config->type_url()) : std::string_view(inner);
    ext = FindExtensionByType(type);
    if (ext == nullptr) {
      return ConfigError(FieldPath(path, "typed_config"), "unsupported extension '", type, "'");
    }
    // One type may serve several kinds (istio.stats: HTTP and network filter).
    for (const KnownExtension& other : KnownExtensions()) {
      if (other.type_name == ext->type_name && other.kind == kind) ext = &other;
    }
  } else {
    ext = FindExtensionByName(name);
    if (ext == nullptr) {
      return ConfigError(FieldPath(path, "name"), "unsupported extension '", name,
                         "' (and no typed_config)");
    }
    for (const KnownExtension& other : KnownExtensions()) {
      if (other.name == ext->name && other.type_name == ext->type_name && other.kind == kind) {
        ext = &other;
      }
    }
  }
  if (ext->kind != kind) {
    return ConfigError(path, "'", ext->name, "' is a ", ExtensionKindName(ext->kind), ", not a ",
                       ExtensionKindName(kind));
  }
  return ext;
}

absl::StatusOr<std::vector<listener::AccessLogConfig>> TranslateAccessLogs(
    const google::protobuf::RepeatedPtrField<envoy::config::accesslog::v3::AccessLog>& logs,
    std::string_view path) {
  namespace file = envoy::extensions::access_loggers::file::v3;
  namespace stream = envoy::extensions::access_loggers::stream::v3;
  using Sink = listener::AccessLogConfig::Sink;
  std::vector<listener::AccessLogConfig> out;
  for (int i = 0; i < logs.size(); ++i) {
    const auto& log = logs[i];
    const std::string item_path = Cat(path, "[", i, "]");
    if (!log.has_typed_config()) {
      return ConfigError(FieldPath(item_path, "typed_config"), "is required for access logs");
    }
    auto ext =
        ResolveExtension(log.name(), &log.typed_config(), ExtensionKind::kAccessLogger, item_path);
    if (!ext.ok()) return ext.status();
    const std::string config_path = FieldPath(item_path, "typed_config");
    listener::AccessLogConfig config;
    const core::SubstitutionFormatString* log_format = nullptr;
    if ((*ext)->name == "envoy.access_loggers.file") {
      auto proto = Unpack<file::FileAccessLog>(log.typed_config(), config_path);
      if (!proto.ok()) return proto.status();
      config.sink = Sink::kFile;
      config.path = proto->path();
      if (config.path.empty()) return ConfigError(FieldPath(config_path, "path"), "is required");
      switch (proto->access_log_format_case()) {
        case file::FileAccessLog::kFormat:  // deprecated plain string
          config.text_format = proto->format();
          break;
        case file::FileAccessLog::kJsonFormat:  // deprecated Struct
          for (const auto& [key, value] : proto->json_format().fields()) {
            if (!value.has_string_value()) {
              return ConfigError(FieldPath(config_path, "json_format"), "key '", key,
                                 "': only string values are supported");
            }
            config.json_format.emplace_back(key, value.string_value());
          }
          std::sort(config.json_format.begin(), config.json_format.end());
          break;
        case file::FileAccessLog::kLogFormat:
          log_format = &proto->log_format();
          break;
        default:
          break;
      }
      if (log_format != nullptr) {
        auto format = TranslateFormat(*log_format, FieldPath(config_path, "log_format"));
        if (!format.ok()) return format.status();
        config.text_format = std::move(format->text);
        config.json_format = std::move(format->json);
      }
    } else {
      stream::StdoutAccessLog proto;  // same shape as StderrAccessLog
      if ((*ext)->name == "envoy.access_loggers.stdout") {
        auto p = Unpack<stream::StdoutAccessLog>(log.typed_config(), config_path);
        if (!p.ok()) return p.status();
        proto = std::move(*p);
        config.sink = Sink::kStdout;
      } else {
        auto p = Unpack<stream::StderrAccessLog>(log.typed_config(), config_path);
        if (!p.ok()) return p.status();
        *proto.mutable_log_format() = p->log_format();
        if (!p->has_log_format()) proto.clear_log_format();
        config.sink = Sink::kStderr;
      }
      if (proto.has_log_format()) {
        auto format = TranslateFormat(proto.log_format(), FieldPath(config_path, "log_format"));
        if (!format.ok()) return format.status();
        config.text_format = std::move(format->text);
        config.json_format = std::move(format->json);
      }
    }
    out.push_back(std::move(config));
  }
  return out;
}

absl::StatusOr<http::Http2Options> TranslateHttp2Options(
    const envoy::config::core::v3::Http2ProtocolOptions& options, std::string_view path) {
  http::Http2Options out;
  if (options.has_hpack_table_size()) out.hpack_table_size = options.hpack_table_size().value();
  if (options.has_max_concurrent_streams()) {
    uint32_t v = options.max_concurrent_streams().value();
    // protocol.proto: 1 to 2147483647.
    if (v < 1 || v > 2147483647) {
      return ConfigError(FieldPath(path, "max_concurrent_streams"),
                         "must be between 1 and 2147483647");
    }
    out.max_concurrent_streams = v;
  }
  // protocol.proto: windows from 65535 (HTTP/2's initial window) to 2147483647 (2^31 - 1).
  auto window = [&](const google::protobuf::UInt32Value& value, std::string_view field,
                    uint32_t& target) -> absl::Status {
    if (value.value() < 65535 || value.value() > 2147483647) {
      return ConfigError(FieldPath(path, field), "must be between 65535 and 2147483647");
    }
    target = value.value();
    return absl::OkStatus();
  };
  if (options.has_initial_stream_window_size()) {
    RETURN_IF_ERROR(window(options.initial_stream_window_size(), "initial_stream_window_size",
                           out.initial_stream_window_size));
  }
  if (options.has_initial_connection_window_size()) {
    RETURN_IF_ERROR(window(options.initial_connection_window_size(),
                           "initial_connection_window_size", out.initial_connection_window_size));
  }
  return out;
}

absl::StatusOr<listener::CidrRange> TranslateCidr(const envoy::config::core::v3::CidrRange& c,
                                                  std::string_view path) {
  const uint32_t len = c.has_prefix_len() ? c.prefix_len().value() : 0;
  std::optional<network::Cidr> cidr = network::Cidr::Parse(c.address_prefix(), len);
  if (!cidr) {
    return ConfigError(FieldPath(path, "address_prefix"), "'", c.address_prefix(),
                       "' is not an IP address");
  }
  const uint32_t max_len = cidr->family == AF_INET ? 32 : 128;
  if (len > max_len) {
    return ConfigError(FieldPath(path, "prefix_len"), "must be at most ", max_len);
  }
  return *cidr;
}

}  // namespace weft::config
