#include "proxy/codec/nghttp2_memory_pool.h"

#include <cstdlib>
#include <cstring>

namespace weft::http {

namespace {

// In front of every block: which class it belongs to (kClassCount: a large block) and, for a
// large block, its payload size (realloc needs it). 16 bytes keep the payload max_align_t-aligned.
struct BlockHeader {
  uint64_t size_class;
  uint64_t payload_size;
};
static_assert(sizeof(BlockHeader) == 16);

BlockHeader* HeaderOf(void* payload) {
  return reinterpret_cast<BlockHeader*>(static_cast<char*>(payload) - sizeof(BlockHeader));
}
void* PayloadOf(BlockHeader* header) { return reinterpret_cast<char*>(header) + sizeof(*header); }

}  // namespace

Nghttp2MemoryPool::Nghttp2MemoryPool() {
  mem_.mem_user_data = this;
  mem_.malloc = [](size_t size, void* pool) {
    return static_cast<Nghttp2MemoryPool*>(pool)->Allocate(size);
  };
  mem_.free = [](void* payload, void* pool) {
    static_cast<Nghttp2MemoryPool*>(pool)->Free(payload);
  };
  mem_.calloc = [](size_t count, size_t size, void* pool) -> void* {
    if (size != 0 && count > SIZE_MAX / size) return nullptr;
    void* p = static_cast<Nghttp2MemoryPool*>(pool)->Allocate(count * size);
    if (p != nullptr) std::memset(p, 0, count * size);
    return p;
  };
  mem_.realloc = [](void* payload, size_t size, void* pool) {
    return static_cast<Nghttp2MemoryPool*>(pool)->Reallocate(payload, size);
  };
}

Nghttp2MemoryPool::~Nghttp2MemoryPool() {
  for (FreeBlock*& head : free_) {
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(head);
      head = next;
    }
  }
}

int Nghttp2MemoryPool::ClassOf(size_t size) {
  int c = 0;
  while (c < kClassCount && ClassSize(c) < size) ++c;
  return c;
}

void* Nghttp2MemoryPool::Allocate(size_t size) {
  const int c = ClassOf(size);
  if (c < kClassCount && free_[c] != nullptr) {
    FreeBlock* block = free_[c];
    free_[c] = block->next;
    --cached_[c];
    auto* header = reinterpret_cast<BlockHeader*>(block);
    header->size_class = static_cast<uint64_t>(c);
    return PayloadOf(header);
  }
  const size_t payload = c < kClassCount ? ClassSize(c) : size;
  auto* header = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + payload));
  if (header == nullptr) return nullptr;
  header->size_class = static_cast<uint64_t>(c);
  header->payload_size = payload;
  return PayloadOf(header);
}

void Nghttp2MemoryPool::Free(void* payload) {
  if (payload == nullptr) return;
  BlockHeader* header = HeaderOf(payload);
  const auto c = static_cast<int>(header->size_class);
  if (c >= kClassCount || (cached_[c] + 1) * ClassSize(c) > kCachedBytesPerClass) {
    std::free(header);
    return;
  }
  auto* block = reinterpret_cast<FreeBlock*>(header);
  block->next = free_[c];
  free_[c] = block;
  ++cached_[c];
}

void* Nghttp2MemoryPool::Reallocate(void* payload, size_t size) {
  if (payload == nullptr) return Allocate(size);
  BlockHeader* header = HeaderOf(payload);
  const auto c = static_cast<int>(header->size_class);
  const size_t capacity = c < kClassCount ? ClassSize(c) : header->payload_size;
  if (size <= capacity) return payload;
  void* bigger = Allocate(size);
  if (bigger == nullptr) return nullptr;  // realloc's contract: the old block stays valid
  std::memcpy(bigger, payload, capacity);
  Free(payload);
  return bigger;
}

size_t Nghttp2MemoryPool::cached_blocks() const {
  size_t n = 0;
  for (uint32_t c : cached_) n += c;
  return n;
}

}  // namespace weft::http
