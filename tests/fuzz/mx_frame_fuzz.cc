// libFuzzer target for Istio's TCP metadata exchange frame reader (ReadMxFrame in
// src/proxy/filters/istio_peer_metadata.cc): the first bytes a peer sends on an
// istio-peer-exchange connection.
//
// Invariants checked (any violation aborts, which libFuzzer reports):
//   1. no crash or sanitizer report;
//   2. kDone consumes at least the 8-byte header and never more than the input, and bytes after
//      a complete frame change nothing;
//   3. kNeedMore only for a prefix of a frame (the magic so far, a size within the bound);
//   4. a decoded peer encodes again into a frame that decodes to the same workload.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/filters/istio_peer_metadata.h"

namespace {

[[noreturn]] void Violation(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using weft::filters::istio::MxRead;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const MxRead read = weft::filters::istio::ReadMxFrame(bytes);
  if (read.status == MxRead::Status::kDone) {
    if (read.size < weft::filters::istio::kMxHeaderSize || read.size > size) {
      Violation("frame size outside the input");
    }
    std::string longer(bytes);
    longer += "trailing application bytes";
    const MxRead again = weft::filters::istio::ReadMxFrame(longer);
    if (again.status != MxRead::Status::kDone || again.size != read.size ||
        again.peer.has_value() != read.peer.has_value()) {
      Violation("bytes after the frame changed the result");
    }
  }
  if (read.status == MxRead::Status::kNeedMore && size >= weft::filters::istio::kMxHeaderSize) {
    const auto byte = [&](size_t i) { return static_cast<uint32_t>(data[i]); };
    const uint32_t data_size = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
    if (data_size > weft::filters::istio::kMxMaxDataSize ||
        size >= weft::filters::istio::kMxHeaderSize + data_size) {
      Violation("kNeedMore for a complete or oversized frame");
    }
  }
  if (read.peer) {
    const std::string frame = weft::filters::istio::EncodeMxFrame(*read.peer);
    const MxRead round = weft::filters::istio::ReadMxFrame(frame);
    if (round.status != MxRead::Status::kDone || !round.peer ||
        round.peer->workload_name != read.peer->workload_name ||
        round.peer->namespace_ != read.peer->namespace_ ||
        round.peer->labels != read.peer->labels || round.peer->node_id != read.peer->node_id) {
      Violation("a decoded peer does not round-trip");
    }
  }
  return 0;
}
