#include "proxy/router/route_matcher.h"

#include <re2/re2.h>

namespace weft::router {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EndsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         EqualsIgnoreCase(text.substr(text.size() - suffix.size()), suffix);
}

bool ContainsIgnoreCase(std::string_view text, std::string_view needle) {
  if (needle.empty()) return true;
  for (size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (EqualsIgnoreCase(text.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

bool StartsWith(std::string_view text, std::string_view prefix, bool case_sensitive) {
  return case_sensitive ? text.starts_with(prefix) : StartsWithIgnoreCase(text, prefix);
}

// Finds the first query parameter called `name`; sets `value` and returns true if found.
bool FindQueryParameter(std::string_view query, std::string_view name, std::string_view& value) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) {
      value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

SplitPath SplitPathAndQuery(std::string_view path_header) {
  size_t fragment = path_header.find('#');
  if (fragment != std::string_view::npos) path_header = path_header.substr(0, fragment);
  size_t question = path_header.find('?');
  if (question == std::string_view::npos) return {path_header, {}};
  return {path_header.substr(0, question), path_header.substr(question + 1)};
}

bool MatchString(const StringMatcher& matcher, std::string_view value) {
  const bool ci = matcher.ignore_case;
  switch (matcher.kind) {
    case StringMatcher::Kind::kExact:
      return ci ? EqualsIgnoreCase(value, matcher.value) : value == matcher.value;
    case StringMatcher::Kind::kPrefix:
      return ci ? StartsWithIgnoreCase(value, matcher.value) : value.starts_with(matcher.value);
    case StringMatcher::Kind::kSuffix:
      return ci ? EndsWithIgnoreCase(value, matcher.value) : value.ends_with(matcher.value);
    case StringMatcher::Kind::kContains:
      return ci ? ContainsIgnoreCase(value, matcher.value)
                : value.find(matcher.value) != std::string_view::npos;
    case StringMatcher::Kind::kRegex:
      return matcher.regex != nullptr && RE2::FullMatch(value, *matcher.regex);
  }
  return false;
}

bool MatchHeader(const HeaderMatcher& matcher, const http::HeaderMap& headers) {
  // Find the value without allocating unless the header repeats.
  const std::string* first = nullptr;
  bool repeated = false;
  for (const auto& field : headers) {
    if (field.name != matcher.name) continue;
    if (first == nullptr) {
      first = &field.value;
    } else {
      repeated = true;
      break;
    }
  }

  if (first == nullptr && !matcher.treat_missing_header_as_empty) {
    // A present matcher (explicit or name-only) can answer for an absent header; a value
    // matcher cannot match what is not there, inverted or not.
    if (matcher.string_match.has_value()) return false;
    const bool want_present = matcher.present_match.value_or(true);
    return (!want_present) != matcher.invert_match;
  }

  bool matched;
  if (matcher.string_match.has_value()) {
    if (repeated) {
      matched = MatchString(*matcher.string_match, headers.GetJoined(matcher.name));
    } else {
      matched = MatchString(*matcher.string_match, first ? std::string_view(*first) : "");
    }
  } else {
    // Present (or treated as present-with-empty-value).
    matched = matcher.present_match.value_or(true) ==
              (first != nullptr || matcher.treat_missing_header_as_empty);
  }
  return matched != matcher.invert_match;
}

bool MatchQueryParameter(const QueryParameterMatcher& matcher, std::string_view query) {
  std::string_view value;
  if (!FindQueryParameter(query, matcher.name, value)) return false;
  if (matcher.present_match || !matcher.string_match.has_value()) return true;
  return MatchString(*matcher.string_match, value);
}

bool MatchPath(const RouteMatch& match, std::string_view path) {
  switch (match.path_kind) {
    case RouteMatch::PathKind::kPrefix:
      return StartsWith(path, match.path, match.case_sensitive);
    case RouteMatch::PathKind::kPath:
      return match.case_sensitive ? path == match.path : EqualsIgnoreCase(path, match.path);
    case RouteMatch::PathKind::kSafeRegex:
      return match.path_regex != nullptr && RE2::FullMatch(path, *match.path_regex);
    case RouteMatch::PathKind::kPathSeparatedPrefix:
      // "/api" matches "/api" and "/api/x", never "/apix".
      return StartsWith(path, match.path, match.case_sensitive) &&
             (path.size() == match.path.size() || path[match.path.size()] == '/');
  }
  return false;
}

bool MatchRoute(const RouteMatch& match, const http::HeaderMap& headers) {
  const SplitPath split = SplitPathAndQuery(headers.Path());
  if (!MatchPath(match, split.path)) return false;
  for (const HeaderMatcher& header : match.headers) {
    if (!MatchHeader(header, headers)) return false;
  }
  for (const QueryParameterMatcher& parameter : match.query_parameters) {
    if (!MatchQueryParameter(parameter, split.query)) return false;
  }
  return true;
}

}  // namespace weft::router
