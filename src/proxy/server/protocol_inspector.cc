#include "proxy/server/protocol_inspector.h"

namespace weft::proxy {

namespace {

// RFC 9113 §3.4.
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// Longer than any sane request line's method and version; a request line longer than this
// without a CRLF is not worth waiting for.
constexpr size_t kMaxInspect = 8192;

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
         c == '*' || c == '+' || c == '.' || c == '^' || c == '`' || c == '|' || c == '~';
}

}  // namespace

InspectResult InspectHttpProtocol(std::string_view data, std::string_view& protocol) {
  protocol = {};
  size_t common = std::min(data.size(), kH2Preface.size());
  if (data.substr(0, common) == kH2Preface.substr(0, common)) {
    if (data.size() < kH2Preface.size()) return InspectResult::kNeedMoreData;
    protocol = "h2c";
    return InspectResult::kDone;
  }
  // A request line starts with a method token: anything else (a TLS ClientHello's 0x16, say)
  // is known not to be HTTP/1 at once, without waiting for a line end that may never come.
  for (char c : data) {
    if (c == ' ') break;
    if (!IsTokenChar(c)) return InspectResult::kDone;
  }
  size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) {
    return data.size() < kMaxInspect ? InspectResult::kNeedMoreData : InspectResult::kDone;
  }
  // method SP request-target SP HTTP/1.x
  std::string_view line = data.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp2 == sp1) return InspectResult::kDone;
  for (char c : line.substr(0, sp1)) {
    if (!IsTokenChar(c)) return InspectResult::kDone;
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") protocol = "http/1.1";
  if (version == "HTTP/1.0") protocol = "http/1.0";
  return InspectResult::kDone;
}

}  // namespace weft::proxy
