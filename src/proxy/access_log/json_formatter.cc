#include "proxy/access_log/json_formatter.h"

#include <fmt/format.h>

#include <algorithm>

namespace weft::access_log {
namespace {

// Escapes out[from..] in place. Values are formatted straight into the output and are rarely in
// need of escaping, so the copy happens only when a character requires it.
void EscapeTail(std::string& out, size_t from) {
  if (std::none_of(out.begin() + static_cast<long>(from), out.end(), [](char c) {
        return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
      })) {
    return;
  }
  std::string raw = out.substr(from);
  out.resize(from);
  AppendJsonEscaped(raw, out);
}

}  // namespace

void AppendJsonEscaped(std::string_view value, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
}

absl::StatusOr<JsonFormatter> JsonFormatter::Compile(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  JsonFormatter formatter;
  formatter.fields_.reserve(fields.size());
  for (const auto& [key, format] : fields) {
    auto value = SubstitutionFormatter::Compile(format);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("json_format key '{}': {}", key, std::string(value.status().message())));
    }
    Field field;
    if (!formatter.fields_.empty()) field.key_prefix += ',';
    field.key_prefix += '"';
    AppendJsonEscaped(key, field.key_prefix);
    field.key_prefix += "\":";
    field.value = *std::move(value);
    formatter.fields_.push_back(std::move(field));
  }
  // Pointers into the compiled pieces are taken once the vector no longer moves.
  for (Field& field : formatter.fields_) {
    const auto& pieces = field.value.pieces();
    if (pieces.size() == 1 && pieces[0].kind != FormatPiece::Kind::kLiteral) {
      field.single_operator = &pieces[0];
    }
  }
  return formatter;
}

void JsonFormatter::FormatTo(const StreamInfo& info, std::string& out) const {
  out += '{';
  for (const Field& field : fields_) {
    out += field.key_prefix;
    if (field.single_operator != nullptr) {
      const FormatPiece& piece = *field.single_operator;
      if (piece.IsNumeric()) {
        if (!piece.AppendValue(info, out)) out += "null";
        continue;
      }
      // Format into the output, then escape in place: values are short and rarely need it.
      const size_t quote_at = out.size();
      out += '"';
      const size_t value_at = out.size();
      if (!piece.AppendValue(info, out)) {
        out.resize(quote_at);
        out += "null";
        continue;
      }
      EscapeTail(out, value_at);
      out += '"';
      continue;
    }
    out += '"';
    const size_t value_at = out.size();
    field.value.FormatTo(info, out);
    EscapeTail(out, value_at);
    out += '"';
  }
  out += "}\n";
}

}  // namespace weft::access_log
