#include "proxy/access_log/substitution_formatter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <ctime>
#include <utility>

#include "http/header_map.h"

namespace weft::access_log {
namespace {

using Kind = FormatPiece::Kind;

enum class ArgRule { kNone, kOptional, kRequired };

struct OperatorSpec {
  std::string_view name;
  Kind kind;
  ArgRule arg;
  bool allows_length;  // accepts the ":Z" truncation suffix
};

// Operator names exactly as Envoy spells them. UPSTREAM_REMOTE_ADDRESS is Envoy's header-value
// name for the upstream host, accepted here as an alias so route header values work too.
constexpr OperatorSpec kOperators[] = {
    {"START_TIME", Kind::kStartTime, ArgRule::kOptional, false},
    {"REQ", Kind::kRequestHeader, ArgRule::kRequired, true},
    {"RESP", Kind::kResponseHeader, ArgRule::kRequired, true},
    {"TRAILER", Kind::kResponseTrailer, ArgRule::kRequired, true},
    {"PROTOCOL", Kind::kProtocol, ArgRule::kNone, false},
    {"RESPONSE_CODE", Kind::kResponseCode, ArgRule::kNone, false},
    {"RESPONSE_CODE_DETAILS", Kind::kResponseCodeDetails, ArgRule::kNone, false},
    {"LOCAL_REPLY_BODY", Kind::kLocalReplyBody, ArgRule::kNone, false},
    {"RESPONSE_FLAGS", Kind::kResponseFlags, ArgRule::kNone, false},
    {"BYTES_RECEIVED", Kind::kBytesReceived, ArgRule::kNone, false},
    {"BYTES_SENT", Kind::kBytesSent, ArgRule::kNone, false},
    {"DURATION", Kind::kDuration, ArgRule::kNone, false},
    {"REQUEST_DURATION", Kind::kRequestDuration, ArgRule::kNone, false},
    {"RESPONSE_DURATION", Kind::kResponseDuration, ArgRule::kNone, false},
    {"RESPONSE_TX_DURATION", Kind::kResponseTxDuration, ArgRule::kNone, false},
    {"UPSTREAM_HOST", Kind::kUpstreamHost, ArgRule::kNone, false},
    {"UPSTREAM_REMOTE_ADDRESS", Kind::kUpstreamHost, ArgRule::kNone, false},
    {"UPSTREAM_CLUSTER", Kind::kUpstreamCluster, ArgRule::kNone, false},
    // Envoy's RAW variant ignores the cluster's alt_stat_name, which Weft does not have.
    {"UPSTREAM_CLUSTER_RAW", Kind::kUpstreamCluster, ArgRule::kNone, false},
    {"UPSTREAM_LOCAL_ADDRESS", Kind::kUpstreamLocalAddress, ArgRule::kNone, false},
    {"UPSTREAM_TRANSPORT_FAILURE_REASON", Kind::kUpstreamTransportFailureReason, ArgRule::kNone,
     false},
    {"DOWNSTREAM_REMOTE_ADDRESS", Kind::kDownstreamRemoteAddress, ArgRule::kNone, false},
    {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", Kind::kDownstreamRemoteAddressWithoutPort,
     ArgRule::kNone, false},
    {"DOWNSTREAM_LOCAL_ADDRESS", Kind::kDownstreamLocalAddress, ArgRule::kNone, false},
    {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", Kind::kDownstreamLocalAddressWithoutPort,
     ArgRule::kNone, false},
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", Kind::kDownstreamDirectRemoteAddress, ArgRule::kNone,
     false},
    {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT",
     Kind::kDownstreamDirectRemoteAddressWithoutPort, ArgRule::kNone, false},
    {"REQUESTED_SERVER_NAME", Kind::kRequestedServerName, ArgRule::kNone, false},
    {"DOWNSTREAM_PEER_URI_SAN", Kind::kDownstreamPeerUriSan, ArgRule::kNone, false},
    {"DOWNSTREAM_TLS_VERSION", Kind::kDownstreamTlsVersion, ArgRule::kNone, false},
    {"UPSTREAM_PEER_URI_SAN", Kind::kUpstreamPeerUriSan, ArgRule::kNone, false},
    {"DOWNSTREAM_TLS_CIPHER", Kind::kDownstreamTlsCipher, ArgRule::kNone, false},
    {"DOWNSTREAM_PEER_SUBJECT", Kind::kDownstreamPeerSubject, ArgRule::kNone, false},
    {"ROUTE_NAME", Kind::kRouteName, ArgRule::kNone, false},
    {"CONNECTION_TERMINATION_DETAILS", Kind::kConnectionTerminationDetails, ArgRule::kNone, false},
    {"HOSTNAME", Kind::kHostname, ArgRule::kNone, false},
    {"REQUEST_ID", Kind::kRequestId, ArgRule::kNone, false},
};

// Envoy's default START_TIME rendering: ISO-8601 UTC with milliseconds.
constexpr std::string_view kDefaultStartTimeFormat = "%Y-%m-%dT%H:%M:%E3SZ";

bool IsNameChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

void AppendUint(uint64_t value, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

// Appends `digits` (1..9) leading digits of the sub-second nanoseconds, zero-padded.
void AppendFraction(uint32_t nanos, int digits, std::string& out) {
  char buf[9];
  for (int i = 8; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + nanos % 10);
    nanos /= 10;
  }
  out.append(buf, static_cast<size_t>(digits));
}

void AppendTwoDigits(int value, std::string& out) {
  out += static_cast<char>('0' + value / 10);
  out += static_cast<char>('0' + value % 10);
}

const std::string& Hostname() {
  static const std::string* const kName = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) return new std::string();
    return new std::string(buf);
  }();
  return *kName;
}

// Splits a START_TIME format into strftime chunks and the sub-second specifiers strftime lacks
// (Envoy's %E<n>S, %<n>f and %s), so formatting never re-scans the format string.
void CompileTimeFormat(std::string_view format, std::vector<TimeSegment>& segments) {
  std::string chunk;
  auto flush_chunk = [&] {
    if (!chunk.empty()) {
      segments.push_back({TimeSegment::Kind::kStrftime, std::move(chunk), 0});
      chunk.clear();
    }
  };
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      chunk += format[i];
      continue;
    }
    std::string_view rest = format.substr(i + 1);
    if (rest.size() >= 3 && rest[0] == 'E' && rest[1] >= '1' && rest[1] <= '9' && rest[2] == 'S') {
      flush_chunk();
      segments.push_back({TimeSegment::Kind::kSecondsWithFraction, {}, rest[1] - '0'});
      i += 3;
    } else if (rest.size() >= 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == 'f') {
      flush_chunk();
      segments.push_back({TimeSegment::Kind::kFraction, {}, rest[0] - '0'});
      i += 2;
    } else if (rest[0] == 'f') {
      flush_chunk();
      segments.push_back({TimeSegment::Kind::kFraction, {}, 9});
      i += 1;
    } else if (rest[0] == 's') {
      flush_chunk();
      segments.push_back({TimeSegment::Kind::kEpochSeconds, {}, 0});
      i += 1;
    } else {
      chunk += '%';
      chunk += rest[0];
      i += 1;
    }
  }
  flush_chunk();
}

void AppendStartTime(const FormatPiece& piece, const StreamInfo& info, std::string& out) {
  const auto since_epoch = info.start_time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto nanos = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count());
  const time_t t = static_cast<time_t>(seconds.count());
  struct tm tm {};
  gmtime_r(&t, &tm);
  for (const TimeSegment& segment : piece.time_segments) {
    switch (segment.kind) {
      case TimeSegment::Kind::kStrftime: {
        char buf[256];
        size_t n = strftime(buf, sizeof(buf), segment.strftime.c_str(), &tm);
        out.append(buf, n);
        break;
      }
      case TimeSegment::Kind::kSecondsWithFraction:
        AppendTwoDigits(tm.tm_sec, out);
        out += '.';
        AppendFraction(nanos, segment.digits, out);
        break;
      case TimeSegment::Kind::kFraction:
        AppendFraction(nanos, segment.digits, out);
        break;
      case TimeSegment::Kind::kEpochSeconds:
        out += std::to_string(static_cast<long long>(t));
        break;
    }
  }
}

bool AppendHeader(const FormatPiece& piece, const http::HeaderMap* headers, std::string& out) {
  if (headers == nullptr) return false;
  const std::string* value = headers->Get(piece.text);
  if (value == nullptr && !piece.alternative.empty()) value = headers->Get(piece.alternative);
  if (value == nullptr) return false;
  std::string_view v = *value;
  if (piece.max_length != 0 && v.size() > piece.max_length) v = v.substr(0, piece.max_length);
  out += v;
  return true;
}

bool AppendDurationMs(const std::optional<std::chrono::nanoseconds>& d, std::string& out) {
  if (!d.has_value()) return false;
  AppendUint(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(*d).count()),
      out);
  return true;
}

bool AppendNonEmpty(std::string_view value, std::string& out) {
  if (value.empty()) return false;
  out += value;
  return true;
}

}  // namespace

std::string_view AddressWithoutPort(std::string_view address) {
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find(']');
    if (close != std::string_view::npos) return address.substr(1, close - 1);
    return address;
  }
  size_t colon = address.rfind(':');
  // More than one colon without brackets is a bare IPv6 literal: no port to strip.
  if (colon == std::string_view::npos || address.find(':') != colon) return address;
  return address.substr(0, colon);
}

bool FormatPiece::IsNumeric() const {
  switch (kind) {
    case Kind::kResponseCode:
    case Kind::kBytesReceived:
    case Kind::kBytesSent:
    case Kind::kDuration:
    case Kind::kRequestDuration:
    case Kind::kResponseDuration:
    case Kind::kResponseTxDuration:
      return true;
    default:
      return false;
  }
}

bool FormatPiece::AppendValue(const StreamInfo& info, std::string& out) const {
  switch (kind) {
    case Kind::kLiteral:
      out += text;
      return true;
    case Kind::kStartTime:
      AppendStartTime(*this, info, out);
      return true;
    case Kind::kRequestHeader:
      return AppendHeader(*this, info.request_headers, out);
    case Kind::kResponseHeader:
      return AppendHeader(*this, info.response_headers, out);
    case Kind::kResponseTrailer:
      return AppendHeader(*this, info.response_trailers, out);
    case Kind::kProtocol:
      return AppendNonEmpty(info.protocol, out);
    case Kind::kResponseCode:
      // Envoy prints 0 when no response was sent (e.g. downstream disconnect): value_or(0).
      AppendUint(info.response_code.value_or(0), out);
      return true;
    case Kind::kResponseCodeDetails:
      return AppendNonEmpty(info.response_code_details, out);
    case Kind::kLocalReplyBody:
      return AppendNonEmpty(info.local_reply_body, out);
    case Kind::kResponseFlags:
      if (info.response_flags == 0) return false;
      AppendResponseFlags(info.response_flags, out);
      return true;
    case Kind::kBytesReceived:
      AppendUint(info.bytes_received, out);
      return true;
    case Kind::kBytesSent:
      AppendUint(info.bytes_sent, out);
      return true;
    case Kind::kDuration:
      return AppendDurationMs(info.request_complete, out);
    case Kind::kRequestDuration:
      return AppendDurationMs(info.last_downstream_rx_byte_received, out);
    case Kind::kResponseDuration:
      return AppendDurationMs(info.first_upstream_rx_byte_received, out);
    case Kind::kResponseTxDuration:
      if (!info.last_downstream_tx_byte_sent || !info.first_upstream_rx_byte_received) return false;
      return AppendDurationMs(
          *info.last_downstream_tx_byte_sent - *info.first_upstream_rx_byte_received, out);
    case Kind::kUpstreamHost:
      return AppendNonEmpty(info.upstream_host, out);
    case Kind::kUpstreamCluster:
      return AppendNonEmpty(info.upstream_cluster, out);
    case Kind::kUpstreamLocalAddress:
      return AppendNonEmpty(info.upstream_local_address, out);
    case Kind::kUpstreamTransportFailureReason:
      return AppendNonEmpty(info.upstream_transport_failure_reason, out);
    case Kind::kDownstreamRemoteAddress:
      return AppendNonEmpty(info.downstream_remote_address, out);
    case Kind::kDownstreamRemoteAddressWithoutPort:
      return AppendNonEmpty(AddressWithoutPort(info.downstream_remote_address), out);
    case Kind::kDownstreamLocalAddress:
      return AppendNonEmpty(info.downstream_local_address, out);
    case Kind::kDownstreamPeerUriSan:
      return AppendNonEmpty(info.downstream_peer_uri_san, out);
    case Kind::kDownstreamTlsVersion:
      return AppendNonEmpty(info.downstream_tls_version, out);
    case Kind::kUpstreamPeerUriSan:
      return AppendNonEmpty(info.upstream_peer_uri_san, out);
    case Kind::kDownstreamTlsCipher:
      return AppendNonEmpty(info.downstream_tls_cipher, out);
    case Kind::kDownstreamPeerSubject:
      return AppendNonEmpty(info.downstream_peer_subject, out);
    case Kind::kDownstreamLocalAddressWithoutPort:
      return AppendNonEmpty(AddressWithoutPort(info.downstream_local_address), out);
    case Kind::kDownstreamDirectRemoteAddress:
      return AppendNonEmpty(info.downstream_direct_remote_address, out);
    case Kind::kDownstreamDirectRemoteAddressWithoutPort:
      return AppendNonEmpty(AddressWithoutPort(info.downstream_direct_remote_address), out);
    case Kind::kRequestedServerName:
      return AppendNonEmpty(info.requested_server_name, out);
    case Kind::kRouteName:
      return AppendNonEmpty(info.route_name, out);
    case Kind::kConnectionTerminationDetails:
      return AppendNonEmpty(info.connection_termination_details, out);
    case Kind::kHostname:
      return AppendNonEmpty(Hostname(), out);
    case Kind::kRequestId:
      return AppendNonEmpty(info.request_id, out);
  }
  return false;
}

absl::StatusOr<SubstitutionFormatter> SubstitutionFormatter::Compile(std::string_view format,
                                                                     bool omit_empty_values) {
  SubstitutionFormatter formatter;
  formatter.omit_empty_values_ = omit_empty_values;
  std::string literal;
  auto flush_literal = [&] {
    if (literal.empty()) return;
    FormatPiece piece;
    piece.text = std::move(literal);
    formatter.pieces_.push_back(std::move(piece));
    literal.clear();
  };

  size_t i = 0;
  while (i < format.size()) {
    if (format[i] != '%') {
      literal += format[i++];
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {  // "%%" is a literal '%'
      literal += '%';
      i += 2;
      continue;
    }
    // %NAME(ARG):LEN% — the grammar of Envoy's command parser.
    const size_t start = i;
    size_t j = i + 1;
    while (j < format.size() && IsNameChar(format[j])) ++j;
    std::string_view name = format.substr(i + 1, j - i - 1);
    std::optional<std::string_view> arg;
    if (j < format.size() && format[j] == '(') {
      size_t close = format.find(')', j);
      if (close == std::string_view::npos) {
        return absl::InvalidArgumentError(
            fmt::format("format: unterminated '(' in operator at offset {}", start));
      }
      arg = format.substr(j + 1, close - j - 1);
      j = close + 1;
    }
    size_t max_length = 0;
    bool has_length = false;
    if (j < format.size() && format[j] == ':') {
      size_t k = j + 1;
      while (k < format.size() && format[k] >= '0' && format[k] <= '9') ++k;
      if (k == j + 1 ||
          std::from_chars(format.data() + j + 1, format.data() + k, max_length).ec != std::errc()) {
        return absl::InvalidArgumentError(
            fmt::format("format: bad length after operator '{}'", name));
      }
      has_length = true;
      j = k;
    }
    if (j >= format.size() || format[j] != '%' || name.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("format: malformed or unterminated operator at offset {}: '{}'", start,
                      format.substr(start, std::min<size_t>(40, format.size() - start))));
    }
    i = j + 1;

    const OperatorSpec* spec = nullptr;
    for (const OperatorSpec& candidate : kOperators) {
      if (candidate.name == name) {
        spec = &candidate;
        break;
      }
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(fmt::format("format: unsupported operator %{}%", name));
    }
    if (spec->arg == ArgRule::kNone && arg.has_value()) {
      return absl::InvalidArgumentError(fmt::format("format: %{}% takes no argument", name));
    }
    if (spec->arg == ArgRule::kRequired && (!arg.has_value() || arg->empty())) {
      return absl::InvalidArgumentError(fmt::format("format: %{}% needs an argument", name));
    }
    if (has_length && !spec->allows_length) {
      return absl::InvalidArgumentError(fmt::format("format: %{}% takes no length", name));
    }

    flush_literal();
    FormatPiece piece;
    piece.kind = spec->kind;
    piece.max_length = max_length;
    if (spec->kind == Kind::kStartTime) {
      piece.text = arg.has_value() && !arg->empty() ? std::string(*arg)
                                                    : std::string(kDefaultStartTimeFormat);
      CompileTimeFormat(piece.text, piece.time_segments);
    } else if (arg.has_value()) {
      // REQ(X?Y): the alternative header is used when X is absent. Names are case-insensitive.
      std::string_view main = *arg;
      size_t question = main.find('?');
      if (question != std::string_view::npos) {
        piece.alternative = http::ToLowerAscii(main.substr(question + 1));
        main = main.substr(0, question);
        if (main.empty() || piece.alternative.empty() ||
            piece.alternative.find('?') != std::string::npos) {
          return absl::InvalidArgumentError(
              fmt::format("format: bad header alternative in %{}({})%", name, *arg));
        }
      }
      piece.text = http::ToLowerAscii(main);
    }
    formatter.pieces_.push_back(std::move(piece));
  }
  flush_literal();
  return formatter;
}

void SubstitutionFormatter::FormatTo(const StreamInfo& info, std::string& out) const {
  for (const FormatPiece& piece : pieces_) {
    if (!piece.AppendValue(info, out) && !omit_empty_values_) out += '-';
  }
}

}  // namespace weft::access_log
