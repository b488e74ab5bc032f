// Character classes of HTTP/1 syntax (RFC 9110 §5.6, RFC 9112, RFC 3986), as 256-entry tables so
// the parser and serializer test a byte with one load instead of a chain of comparisons.
// Internal to src/http; constant data, safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace weft::http::chars {

using Table = std::array<bool, 256>;

constexpr bool IsAlpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool IsDigit(int c) { return c >= '0' && c <= '9'; }

constexpr Table MakeTable(bool (*pred)(int)) {
  Table t{};
  for (int c = 0; c < 256; ++c) t[c] = pred(c);
  return t;
}

// tchar (RFC 9110 §5.6.2): the characters of a token (method, header name, transfer coding).
constexpr bool IsTchar(int c) {
  return IsAlpha(c) || IsDigit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
}
// field-vchar, SP and HTAB (RFC 9110 §5.5): anything but controls (NUL, CR, LF, ...) and DEL.
constexpr bool IsFieldValueChar(int c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }
// unreserved / sub-delims (RFC 3986 §2.2, §2.3), the bulk of URIs.
constexpr bool IsUriCommon(int c) {
  return IsAlpha(c) || IsDigit(c) ||
         std::string_view("-._~!$&'()*+,;=").find(char(c)) != std::string_view::npos;
}
// Characters of origin-form path and query ('%' is checked for two hex digits separately).
constexpr bool IsTargetChar(int c) {
  return IsUriCommon(c) || c == ':' || c == '@' || c == '/' || c == '?' || c == '%';
}
// Characters of an authority as Host or CONNECT carry it: reg-name, IP literal brackets, port.
// No '@': userinfo is not allowed in Host (RFC 9110 §4.2.4).
constexpr bool IsAuthorityChar(int c) {
  return IsUriCommon(c) || c == ':' || c == '[' || c == ']' || c == '%';
}
constexpr bool IsSchemeChar(int c) {
  return IsAlpha(c) || IsDigit(c) || c == '+' || c == '-' || c == '.';
}

inline constexpr Table kTchar = MakeTable(IsTchar);
inline constexpr Table kFieldValue = MakeTable(IsFieldValueChar);
inline constexpr Table kTarget = MakeTable(IsTargetChar);
inline constexpr Table kAuthority = MakeTable(IsAuthorityChar);
inline constexpr Table kScheme = MakeTable(IsSchemeChar);

// Hex digit value, or -1.
constexpr std::array<int8_t, 256> MakeHexTable() {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = IsDigit(c)               ? int8_t(c - '0')
           : (c >= 'a' && c <= 'f') ? int8_t(c - 'a' + 10)
           : (c >= 'A' && c <= 'F') ? int8_t(c - 'A' + 10)
                                    : int8_t(-1);
  }
  return t;
}
inline constexpr std::array<int8_t, 256> kHexValue = MakeHexTable();

inline bool At(const Table& t, char c) { return t[static_cast<unsigned char>(c)]; }

inline bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!At(kTchar, c)) return false;
  }
  return true;
}

// Header values are the bulk of a head, so they are checked eight bytes at a time: a word with no
// byte below 0x20 and none equal to 0x7f is all field-value characters; other words (HTAB, or an
// actual error) take the byte-wise path.
inline bool IsFieldValue(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
    uint64_t del = w ^ (kOnes * 0x7f);
    uint64_t is_del = (del - kOnes) & ~del & kHighs;
    if ((below_space | is_del) != 0) {
      for (size_t j = i; j < i + 8; ++j) {
        if (!At(kFieldValue, s[j])) return false;
      }
    }
  }
  for (; i < s.size(); ++i) {
    if (!At(kFieldValue, s[i])) return false;
  }
  return true;
}

// Every byte in `table`, and every '%' followed by two hex digits.
inline bool IsUriPart(std::string_view s, const Table& table) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (!At(table, s[i])) return false;
    if (s[i] == '%') {
      if (i + 2 >= s.size() || kHexValue[static_cast<unsigned char>(s[i + 1])] < 0 ||
          kHexValue[static_cast<unsigned char>(s[i + 2])] < 0) {
        return false;
      }
      i += 2;
    }
  }
  return true;
}

constexpr char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty, OWS-trimmed element of a comma-separated list
// (RFC 9110 §5.6.1). Returns false as soon as fn does.
template <typename Fn>
bool ForEachListElement(std::string_view list, Fn&& fn) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view element = TrimOws(list.substr(0, comma));
    if (!element.empty() && !fn(element)) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace weft::http::chars
