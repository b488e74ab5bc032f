// Envoy's json_format access logs: an ordered list of (key, format string) pairs rendered as one
// JSON object per line. As in Envoy, a value that is exactly one operator is typed: numbers
// (%RESPONSE_CODE%, %BYTES_SENT%, %DURATION%, ...) print unquoted and a missing value prints
// null; any other value is a JSON string, with "-" for missing operators inside it.
// Keys keep the configured order (Envoy's protobuf Struct sorted them; order carries no meaning
// in JSON, and keeping it avoids a sort per config).
//
// Thread-safety: immutable after Compile(); Format() may run on many threads at once.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/access_log/stream_info.h"
#include "proxy/access_log/substitution_formatter.h"

namespace weft::access_log {

class JsonFormatter {
 public:
  static absl::StatusOr<JsonFormatter> Compile(
      const std::vector<std::pair<std::string, std::string>>& fields);

  // Appends one JSON object and a '\n' to `out`.
  void FormatTo(const StreamInfo& info, std::string& out) const;

 private:
  struct Field {
    std::string key_prefix;  // `"key":` already escaped, with the leading ',' when not first
    SubstitutionFormatter value;
    const FormatPiece* single_operator = nullptr;  // set when the value is one operator
  };
  std::vector<Field> fields_;
};

// Appends `value` as the body of a JSON string (without quotes), escaping as RFC 8259 requires.
void AppendJsonEscaped(std::string_view value, std::string& out);

}  // namespace weft::access_log
