// Giving back memory that only startup needed. A sidecar's resident memory is a headline cost
// (one proxy per workload), and most of what weft-proxy touches at startup is configuration
// machinery: protobuf's descriptors and parser, yaml-cpp, the generated message code. Once the
// configuration is translated into the data path's own structures those pages sit idle.
#pragma once

#include <string_view>
#include <vector>

namespace weft::memory {

// Returns freed heap to the kernel (malloc_trim) and asks the kernel to reclaim the resident
// pages of file mappings whose path contains one of `libraries` (MADV_PAGEOUT). Pages needed
// again later simply fault back in from the page cache, so this is safe, only slower on first
// reuse. Returns how many bytes of mappings were advised.
size_t ReleaseStartupMemory(const std::vector<std::string_view>& libraries);

}  // namespace weft::memory
