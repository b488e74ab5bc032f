#include "http/http1_serializer.h"

#include "base/status.h"
#include "http/http1_chars.h"

namespace weft::http {

namespace {

// A request-target or authority on the wire: visible bytes only (no SP, controls or DEL), which is
// what keeps the start line's three parts apart. Stricter URI checks are the parser's job.
bool IsWireTargetPart(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

// Regular fields: checks names and values, adds their wire size to `size`.
absl::Status CheckFields(const HeaderMap& headers, bool skip_host, size_t& size) {
  for (const HeaderField& f : headers) {
    if (!f.name.empty() && f.name[0] == ':') continue;  // pseudo-headers are checked by callers
    if (skip_host && f.name == "host") continue;
    if (!chars::IsToken(f.name)) {
      return absl::InvalidArgumentError("invalid header name: " + f.name);
    }
    if (!chars::IsFieldValue(f.value)) {
      return absl::InvalidArgumentError("invalid value for header " + f.name);
    }
    size += f.name.size() + 2 + f.value.size() + 2;
  }
  return absl::OkStatus();
}

void AppendFields(const HeaderMap& headers, bool skip_host, std::string& out) {
  for (const HeaderField& f : headers) {
    if (!f.name.empty() && f.name[0] == ':') continue;
    if (skip_host && f.name == "host") continue;
    out.append(f.name);
    out.append(": ", 2);
    out.append(f.value);
    out.append("\r\n", 2);
  }
}

std::string_view VersionString(int version_minor) {
  return version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

}  // namespace

absl::Status SerializeRequestHead(const HeaderMap& headers, std::string& out,
                                  const Http1RequestHeadOptions& options) {
  const std::string* method = nullptr;
  const std::string* path = nullptr;
  const std::string* authority = nullptr;
  const std::string* scheme = nullptr;
  for (const HeaderField& f : headers) {
    if (f.name.empty() || f.name[0] != ':') continue;
    if (f.name == ":method") {
      method = &f.value;
    } else if (f.name == ":path") {
      path = &f.value;
    } else if (f.name == ":authority") {
      authority = &f.value;
    } else if (f.name == ":scheme") {
      scheme = &f.value;
    } else {
      return absl::InvalidArgumentError("pseudo-header not expressible in HTTP/1: " + f.name);
    }
  }
  if (method == nullptr || !chars::IsToken(*method)) {
    return absl::InvalidArgumentError("request needs a valid :method");
  }
  const bool connect = *method == "CONNECT";
  if (authority != nullptr && !authority->empty() && !IsWireTargetPart(*authority)) {
    return absl::InvalidArgumentError("invalid :authority");
  }
  size_t size = method->size() + 1 + 1 + 8 + 2 + 2;
  bool absolute = false;
  if (connect) {
    if (authority == nullptr || authority->empty()) {
      return absl::InvalidArgumentError("CONNECT needs :authority");
    }
    size += authority->size();
  } else {
    if (path == nullptr || !IsWireTargetPart(*path)) {
      return absl::InvalidArgumentError("request needs a valid :path");
    }
    size += path->size();
    absolute = options.absolute_form && authority != nullptr && !authority->empty() && *path != "*";
    if (absolute) {
      if (scheme != nullptr && !chars::IsToken(*scheme)) {
        return absl::InvalidArgumentError("invalid :scheme");
      }
      size += (scheme ? scheme->size() : 4) + 3 + authority->size();
    }
  }
  const bool host_from_authority = authority != nullptr;
  if (host_from_authority) size += 6 + authority->size() + 2;
  RETURN_IF_ERROR(CheckFields(headers, host_from_authority, size));

  out.reserve(out.size() + size);
  out.append(*method);
  out += ' ';
  if (connect) {
    out.append(*authority);
  } else {
    if (absolute) {
      out.append(scheme ? std::string_view(*scheme) : std::string_view("http"));
      out.append("://", 3);
      out.append(*authority);
    }
    out.append(*path);
  }
  out += ' ';
  out.append(VersionString(options.version_minor));
  out.append("\r\n", 2);
  if (host_from_authority) {
    out.append("host: ", 6);
    out.append(*authority);
    out.append("\r\n", 2);
  }
  AppendFields(headers, host_from_authority, out);
  out.append("\r\n", 2);
  return absl::OkStatus();
}

absl::Status SerializeResponseHead(const HeaderMap& headers, std::string& out, int version_minor) {
  const std::string* status = nullptr;
  for (const HeaderField& f : headers) {
    if (f.name.empty() || f.name[0] != ':') continue;
    if (f.name != ":status") {
      return absl::InvalidArgumentError("pseudo-header not allowed in a response: " + f.name);
    }
    status = &f.value;
  }
  if (status == nullptr || status->size() != 3 || !chars::IsDigit((*status)[0]) ||
      !chars::IsDigit((*status)[1]) || !chars::IsDigit((*status)[2]) || (*status)[0] < '1' ||
      (*status)[0] > '5') {
    return absl::InvalidArgumentError("response needs a valid :status");
  }
  int code = ((*status)[0] - '0') * 100 + ((*status)[1] - '0') * 10 + ((*status)[2] - '0');
  std::string_view reason = ReasonPhrase(code);
  size_t size = 8 + 1 + 3 + 1 + reason.size() + 2 + 2;
  RETURN_IF_ERROR(CheckFields(headers, /*skip_host=*/false, size));

  out.reserve(out.size() + size);
  out.append(VersionString(version_minor));
  out += ' ';
  out.append(*status);
  out += ' ';
  out.append(reason);
  out.append("\r\n", 2);
  AppendFields(headers, /*skip_host=*/false, out);
  out.append("\r\n", 2);
  return absl::OkStatus();
}

void AppendChunk(std::string_view data, std::string& out) {
  if (data.empty()) return;
  char hex[16];
  char* end = hex + sizeof(hex);
  char* p = end;
  size_t n = data.size();
  do {
    *--p = "0123456789abcdef"[n & 0xf];
    n >>= 4;
  } while (n != 0);
  out.reserve(out.size() + static_cast<size_t>(end - p) + 2 + data.size() + 2);
  out.append(p, static_cast<size_t>(end - p));
  out.append("\r\n", 2);
  out.append(data);
  out.append("\r\n", 2);
}

absl::Status AppendLastChunk(const HeaderMap* trailers, std::string& out) {
  size_t size = 3 + 2;
  if (trailers != nullptr) {
    for (const HeaderField& f : *trailers) {
      if (!f.name.empty() && f.name[0] == ':') {
        return absl::InvalidArgumentError("pseudo-header in trailers: " + f.name);
      }
    }
    RETURN_IF_ERROR(CheckFields(*trailers, /*skip_host=*/false, size));
  }
  out.reserve(out.size() + size);
  out.append("0\r\n", 3);
  if (trailers != nullptr) AppendFields(*trailers, /*skip_host=*/false, out);
  out.append("\r\n", 2);
  return absl::OkStatus();
}

std::string_view ReasonPhrase(int status_code) {
  switch (status_code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace weft::http
