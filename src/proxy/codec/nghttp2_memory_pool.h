// The allocator one nghttp2 session uses (nghttp2_mem, given to nghttp2_session_*_new3): small
// blocks come back from per-size free lists instead of malloc. nghttp2 allocates and frees a
// handful of small objects for every stream (the stream, its outbound items, a copy of each
// header block we submit, HPACK's decoded fields); with the pool a steady stream of requests on
// a connection reuses the same blocks, and malloc is called only while the number of streams in
// flight reaches a new high.
//
// Each block carries a 16-byte header (its size class) in front of what nghttp2 sees, which keeps
// max_align_t alignment. Blocks larger than the biggest class go straight to malloc. What a free
// list keeps is bounded per class (kCachedBytesPerClass), so an idle connection holds at most
// ~100 KiB it is not using; everything is returned when the pool is destroyed, which must be
// after nghttp2_session_del.
//
// Not thread-safe: belongs to the connection's codec.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace weft::http {

class Nghttp2MemoryPool {
 public:
  Nghttp2MemoryPool();
  ~Nghttp2MemoryPool();
  Nghttp2MemoryPool(const Nghttp2MemoryPool&) = delete;
  Nghttp2MemoryPool& operator=(const Nghttp2MemoryPool&) = delete;

  // For nghttp2_session_server_new3 / nghttp2_session_client_new3 (nghttp2 copies the struct;
  // the pool must outlive the session).
  nghttp2_mem* mem() { return &mem_; }

  void* Allocate(size_t size);
  void Free(void* payload);
  void* Reallocate(void* payload, size_t size);

  // Blocks waiting in the free lists (for tests).
  size_t cached_blocks() const;

  // Size classes: 32, 64, ..., 4096 bytes of payload.
  static constexpr int kClassCount = 8;
  static constexpr size_t kSmallestClass = 32;
  static constexpr size_t kLargestClass = kSmallestClass << (kClassCount - 1);
  static constexpr size_t kCachedBytesPerClass = 12 * 1024;

 private:
  // The class whose payload fits `size`, or kClassCount when none does.
  static int ClassOf(size_t size);
  static size_t ClassSize(int size_class) { return kSmallestClass << size_class; }

  struct FreeBlock {
    FreeBlock* next;
  };
  nghttp2_mem mem_;
  std::array<FreeBlock*, kClassCount> free_{};  // headers of cached blocks, linked
  std::array<uint32_t, kClassCount> cached_{};
};

}  // namespace weft::http
