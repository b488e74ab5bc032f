// Writes HTTP/1.1 messages from a HeaderMap: the request head sent upstream, the response head sent
// downstream, and the chunked transfer coding of a body. Pseudo-headers become the start line
// (":method" + ":path", or ":authority" for CONNECT; ":status") and ":authority" becomes Host;
// the remaining fields are written in order, names as stored (lower-case, which HTTP/1 accepts).
//
// Every name, value and start-line part is checked before anything is written, so a header that
// came from HTTP/2, a filter or config cannot inject CR/LF into the output: on error `out` is left
// as it was. Output is appended to a std::string sized once per head.
//
// Thread-safety: free functions without state.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/header_map.h"

namespace weft::http {

struct Http1RequestHeadOptions {
  int version_minor = 1;  // write HTTP/1.0 or HTTP/1.1
  // Write the target in absolute-form (":scheme://:authority:path"), as a forward proxy does.
  bool absolute_form = false;
};

// Appends "METHOD target HTTP/1.x\r\nhost: ...\r\n<fields>\r\n" to `out`.
// Requires ":method", and ":path" (or ":authority" for CONNECT). A "host" field is written only if
// there is no ":authority".
absl::Status SerializeRequestHead(const HeaderMap& headers, std::string& out,
                                  const Http1RequestHeadOptions& options = {});

// Appends "HTTP/1.x CODE Reason\r\n<fields>\r\n" to `out`. Requires ":status" (100-599).
absl::Status SerializeResponseHead(const HeaderMap& headers, std::string& out,
                                   int version_minor = 1);

// Appends one chunk ("<hex size>\r\n<data>\r\n"). Empty data appends nothing: an empty chunk would
// end the body.
void AppendChunk(std::string_view data, std::string& out);

// Appends the last chunk ("0\r\n"), the trailer fields if any, and the final CRLF.
absl::Status AppendLastChunk(const HeaderMap* trailers, std::string& out);

// The standard reason phrase of a status code, or "Unknown".
std::string_view ReasonPhrase(int status_code);

}  // namespace weft::http
