// One entry of a no-capture proxy's WEFT_UPSTREAMS node metadata (mesh/node_identity.h parses
// it; translate/upstreams.cc turns it into a listener). Plain data, no protobuf.
#pragma once

#include <cstdint>
#include <string>

namespace weft::control::translate {

// "reviews:9080=127.0.0.1:19080": a listener on bind_address:bind_port that sends everything to
// `host` (resolved like a VirtualService host, in the proxy's namespace) on service port `port`.
struct UpstreamBinding {
  std::string host;
  uint32_t port = 0;
  std::string bind_address;
  uint32_t bind_port = 0;
  bool operator==(const UpstreamBinding&) const = default;
};

}  // namespace weft::control::translate
