#include "ctl/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "base/yaml_json.h"

namespace weft::ctl {

std::string Table::Render() const {
  // k8s.io/cli-runtime's printers: tabwriter.NewWriter(out, 10, 4, 3, ' ', 0).
  constexpr size_t kMinWidth = 10, kPadding = 3;
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        const size_t width = std::max(widths[i] + kPadding, kMinWidth);
        line.append(width - row[i].size(), ' ');
      }
    }
    out += line + "\n";
  }
  return out;
}

void Table::Print() const { std::fputs(Render().c_str(), stdout); }

std::string HumanDuration(int64_t seconds) {
  // k8s.io/apimachinery/pkg/util/duration.HumanDuration's steps.
  auto fmt = [](int64_t a, const char* ua, int64_t b, const char* ub) {
    std::string s = std::to_string(a) + ua;
    if (b != 0) s += std::to_string(b) + ub;
    return s;
  };
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  const int64_t minutes = seconds / 60;
  if (minutes < 10) return fmt(minutes, "m", seconds % 60, "s");
  if (minutes < 180) return std::to_string(minutes) + "m";
  const int64_t hours = minutes / 60;
  if (hours < 8) return fmt(hours, "h", minutes % 60, "m");
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) return fmt(hours / 24, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) return fmt(hours / 24 / 365, "y", (hours / 24) % 365, "d");
  return std::to_string(hours / 24 / 365) + "y";
}

std::string Age(const std::string& timestamp) {
  std::tm tm{};
  if (strptime(timestamp.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) == nullptr) return "<unknown>";
  return HumanDuration(static_cast<int64_t>(std::time(nullptr) - timegm(&tm)));
}

std::string Cell(const nlohmann::json& value) {
  if (value.is_null()) return "<none>";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

namespace {

// How a string must be written so it reads back as the same string, the way kubectl's YAML
// (go-yaml) writes it: plain when it is unambiguous, double-quoted when plain would read as
// another type ("43", "true", "null") or holds control characters, single-quoted when it starts
// with or holds YAML syntax ('*', 'a: b').
std::string YamlString(const std::string& s) {
  nlohmann::json number;
  bool boolean = false;
  static const char* kOtherTypes[] = {"",    "~",   "null", "Null", "NULL", "y",    "Y",   "yes",
                                      "Yes", "YES", "n",    "N",    "no",   "No",   "NO",  "on",
                                      "On",  "ON",  "off",  "Off",  "OFF",  ".inf", ".nan"};
  bool other = weft::yaml::ParseBool(s, &boolean) || weft::yaml::ParseNumber(s, &number);
  for (const char* t : kOtherTypes) other = other || s == t;
  // YAML 1.1 timestamps ("2026-01-02T03:04:05Z") and based integers ("0x1F"), which go-yaml
  // quotes too.
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  other = other || (s.size() >= 8 && std::all_of(s.begin(), s.begin() + 4, digit) && s[4] == '-' &&
                    digit(s[5]));
  other = other || (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'));
  bool control = false;
  for (unsigned char c : s) control = control || c < 0x20 || c == 0x7f;
  if (other || control) return nlohmann::json(s).dump();  // JSON's escapes are YAML's
  const bool syntax =
      std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos ||
      s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':' ||
      s.front() == ' ' || s.back() == ' ';
  if (!syntax) return s;
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

std::string Scalar(const nlohmann::json& v) {
  if (v.is_string()) return YamlString(v.get<std::string>());
  if (v.is_object()) return "{}";
  if (v.is_array()) return "[]";
  return v.dump();  // numbers, booleans, null
}

bool Nested(const nlohmann::json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

// Block style, keys sorted (nlohmann's objects are), a sequence under a key at the key's own
// indentation ("hosts:\n- reviews"), as kubectl prints.
void EmitYaml(const nlohmann::json& v, const std::string& indent, std::string& out) {
  if (v.is_object()) {
    bool first = true;
    for (const auto& [key, child] : v.items()) {
      if (!first) out += indent;
      first = false;
      out += YamlString(key) + ":";
      if (child.is_object() && !child.empty()) {
        out += "\n" + indent + "  ";
        EmitYaml(child, indent + "  ", out);
      } else if (child.is_array() && !child.empty()) {
        out += "\n" + indent;
        EmitYaml(child, indent, out);
      } else {
        out += " " + Scalar(child) + "\n";
      }
    }
  } else if (v.is_array()) {
    bool first = true;
    for (const auto& item : v) {
      if (!first) out += indent;
      first = false;
      out += "- ";
      if (Nested(item)) {
        EmitYaml(item, indent + "  ", out);
      } else {
        out += Scalar(item) + "\n";
      }
    }
  } else {
    out += Scalar(v) + "\n";
  }
}

}  // namespace

std::string ToYaml(const nlohmann::json& value) {
  std::string out;
  EmitYaml(value, "", out);
  return out;
}

void PrintYaml(const nlohmann::json& value) { std::fputs(ToYaml(value).c_str(), stdout); }

void PrintJson(const nlohmann::json& value) { std::printf("%s\n", value.dump(4).c_str()); }

}  // namespace weft::ctl
