#include "base/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21  // Linux 5.4
#endif

namespace weft::memory {

size_t ReleaseStartupMemory(const std::vector<std::string_view>& libraries) {
  malloc_trim(0);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  size_t advised = 0;
  while (std::getline(maps, line)) {
    unsigned long start = 0, end = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &start, &end, perms) != 3) continue;
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string_view path(line.c_str() + slash);
    bool wanted = false;
    for (std::string_view lib : libraries)
      wanted = wanted || path.find(lib) != std::string_view::npos;
    // Only read-only or executable file pages: writable ones may hold live state.
    if (!wanted || perms[1] == 'w') continue;
    if (madvise(reinterpret_cast<void*>(start), end - start, MADV_PAGEOUT) == 0)
      advised += end - start;
  }
  return advised;
}

}  // namespace weft::memory
