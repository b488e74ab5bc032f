// What Envoy's http_inspector listener filter tells filter-chain matching: whether a plaintext
// connection starts with HTTP/1.x ("http/1.1", "http/1.0") or the HTTP/2 connection preface
// ("h2c"). Used only when a listener has the filter and some chain matches on
// application_protocols; the bytes looked at are not consumed.
#pragma once

#include <string_view>

namespace weft::proxy {

enum class InspectResult { kNeedMoreData, kDone };

// Looks at the first bytes of a connection. On kDone, `protocol` is "http/1.1", "http/1.0",
// "h2c", or empty when the bytes are not HTTP.
InspectResult InspectHttpProtocol(std::string_view first_bytes, std::string_view& protocol);

}  // namespace weft::proxy
