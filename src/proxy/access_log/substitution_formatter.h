// Envoy's format-string language ("command operators" such as %START_TIME% or
// %REQ(X-FORWARDED-FOR?X-REAL-IP):64%), used by access logs and by header values in route
// configuration. A format is compiled ONCE, when config is built, into a flat list of literal and
// operator pieces; formatting a request then walks that list, appending to a caller-owned string,
// with no parsing and no allocation beyond the output's own growth.
//
// Reference: envoyproxy.io, "Access logging" > "Command Operators" and "Default format string".
// Unknown operators, malformed arguments and unterminated '%' are refused at compile time, so a
// bad config is NACKed instead of logging garbage.
//
// Thread-safety: a compiled SubstitutionFormatter is immutable; any number of threads may call
// Format() on it concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/access_log/stream_info.h"

namespace weft::access_log {

// Envoy's default access log format (envoyproxy.io, access log usage, "Default format string"),
// with its trailing newline.
inline constexpr std::string_view kDefaultAccessLogFormat =
    "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
    "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

// A START_TIME format, pre-split: strftime chunks and the sub-second specifiers strftime lacks.
struct TimeSegment {
  enum class Kind : uint8_t { kStrftime, kSecondsWithFraction, kFraction, kEpochSeconds };
  Kind kind = Kind::kStrftime;
  std::string strftime;  // kStrftime: the chunk passed to strftime(3)
  int digits = 0;        // sub-second digits for %E<n>S and %<n>f
};

// One compiled piece of a format string. Exposed so the JSON formatter can tell a value that is a
// single operator (typed output) from a mixed template (string output).
struct FormatPiece {
  enum class Kind : uint8_t {
    kLiteral,
    kStartTime,
    kRequestHeader,
    kResponseHeader,
    kResponseTrailer,
    kProtocol,
    kResponseCode,
    kResponseCodeDetails,
    kLocalReplyBody,
    kResponseFlags,
    kBytesReceived,
    kBytesSent,
    kDuration,
    kRequestDuration,
    kResponseDuration,
    kResponseTxDuration,
    kUpstreamHost,
    kUpstreamCluster,
    kUpstreamLocalAddress,
    kUpstreamTransportFailureReason,
    kDownstreamRemoteAddress,
    kDownstreamRemoteAddressWithoutPort,
    kDownstreamLocalAddress,
    kDownstreamLocalAddressWithoutPort,
    kDownstreamDirectRemoteAddress,
    kDownstreamDirectRemoteAddressWithoutPort,
    kRequestedServerName,
    kDownstreamPeerUriSan,
    kDownstreamTlsVersion,
    kUpstreamPeerUriSan,
    kDownstreamTlsCipher,
    kDownstreamPeerSubject,
    kRouteName,
    kConnectionTerminationDetails,
    kHostname,
    kRequestId,
  };
  Kind kind = Kind::kLiteral;
  std::string text;         // literal text; header name (lower-case); START_TIME's format
  std::string alternative;  // REQ(X?Y): Y, lower-case
  size_t max_length = 0;    // ":Z" truncation, 0 = none
  std::vector<TimeSegment> time_segments;  // kStartTime only

  // True if the operator's value is a number (JSON prints it unquoted).
  bool IsNumeric() const;
  // Appends this piece's value to `out`. Returns false, appending nothing, when the value is not
  // available (the text formatter then prints "-", the JSON formatter null).
  bool AppendValue(const StreamInfo& info, std::string& out) const;
};

class SubstitutionFormatter {
 public:
  // `omit_empty_values`: print missing values as nothing instead of "-" (Envoy does this for
  // header values, so that keep_empty_value can drop a header whose variables are all missing).
  static absl::StatusOr<SubstitutionFormatter> Compile(std::string_view format,
                                                       bool omit_empty_values = false);

  // Appends the formatted text to `out`.
  void FormatTo(const StreamInfo& info, std::string& out) const;
  std::string Format(const StreamInfo& info) const {
    std::string out;
    FormatTo(info, out);
    return out;
  }

  // True if the format has no operator (its text is the value; header values often are).
  bool IsLiteral() const {
    return pieces_.empty() ||
           (pieces_.size() == 1 && pieces_[0].kind == FormatPiece::Kind::kLiteral);
  }
  const std::vector<FormatPiece>& pieces() const { return pieces_; }

 private:
  std::vector<FormatPiece> pieces_;
  bool omit_empty_values_ = false;
};

// Strips ":port" from "1.2.3.4:80" and "[::1]:80" (-> "::1"), as Envoy's *_WITHOUT_PORT do.
std::string_view AddressWithoutPort(std::string_view address);

}  // namespace weft::access_log
