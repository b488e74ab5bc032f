// The nghttp2 allocator's free lists: blocks are reused by size class, realloc keeps contents,
// calloc zeroes, large blocks bypass the lists, and what a list keeps is bounded.
#include "proxy/codec/nghttp2_memory_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace weft::http {
namespace {

TEST(Nghttp2MemoryPoolTest, FreedBlockIsReusedForTheSameSizeClass) {
  Nghttp2MemoryPool pool;
  void* a = pool.Allocate(100);  // the 128-byte class
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % alignof(std::max_align_t), 0u);
  pool.Free(a);
  EXPECT_EQ(pool.cached_blocks(), 1u);
  EXPECT_EQ(pool.Allocate(120), a);
  EXPECT_EQ(pool.cached_blocks(), 0u);
  void* other_class = pool.Allocate(20);
  EXPECT_NE(other_class, a);
  pool.Free(other_class);
  pool.Free(a);
}

TEST(Nghttp2MemoryPoolTest, ReallocKeepsTheBytesAndGrowsAcrossClasses) {
  Nghttp2MemoryPool pool;
  auto* p = static_cast<char*>(pool.Allocate(10));
  std::memcpy(p, "0123456789", 10);
  EXPECT_EQ(pool.Reallocate(p, 30), p);                    // still fits its 32-byte block
  auto* q = static_cast<char*>(pool.Reallocate(p, 5000));  // beyond the largest class
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::memcmp(q, "0123456789", 10), 0);
  auto* r = static_cast<char*>(pool.Reallocate(q, 9000));
  EXPECT_EQ(std::memcmp(r, "0123456789", 10), 0);
  pool.Free(r);
  EXPECT_EQ(pool.cached_blocks(), 1u);  // the first 32-byte block; large ones went to free()
}

TEST(Nghttp2MemoryPoolTest, CallocZeroesAReusedBlock) {
  Nghttp2MemoryPool pool;
  nghttp2_mem* mem = pool.mem();
  auto* p = static_cast<unsigned char*>(mem->malloc(64, mem->mem_user_data));
  std::memset(p, 0xab, 64);
  mem->free(p, mem->mem_user_data);
  auto* z = static_cast<unsigned char*>(mem->calloc(8, 8, mem->mem_user_data));
  ASSERT_EQ(z, p);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(z[i], 0) << i;
  mem->free(z, mem->mem_user_data);
  EXPECT_EQ(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data), nullptr);  // overflow
}

TEST(Nghttp2MemoryPoolTest, FreeListsAreBounded) {
  Nghttp2MemoryPool pool;
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(pool.Allocate(4000));
  for (void* b : blocks) pool.Free(b);
  EXPECT_EQ(pool.cached_blocks(), Nghttp2MemoryPool::kCachedBytesPerClass / 4096);
}

TEST(Nghttp2MemoryPoolTest, ServesARealSession) {
  // A client session's lifetime with a request submitted and the pool freed after it.
  Nghttp2MemoryPool pool;
  nghttp2_session_callbacks* callbacks;
  ASSERT_EQ(nghttp2_session_callbacks_new(&callbacks), 0);
  nghttp2_session* session = nullptr;
  ASSERT_EQ(nghttp2_session_client_new3(&session, callbacks, nullptr, nullptr, pool.mem()), 0);
  nghttp2_session_callbacks_del(callbacks);
  const nghttp2_nv nva[] = {
      {(uint8_t*)":method", (uint8_t*)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":path", (uint8_t*)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":authority", (uint8_t*)"example", 10, 7, NGHTTP2_NV_FLAG_NONE},
  };
  EXPECT_GT(nghttp2_submit_request(session, nullptr, nva, 4, nullptr, nullptr), 0);
  const uint8_t* bytes = nullptr;
  EXPECT_GT(nghttp2_session_mem_send(session, &bytes), 0);
  nghttp2_session_del(session);
}

}  // namespace
}  // namespace weft::http
