// Recycled memory for objects made and destroyed at request rate (streams, routers, upstream
// requests, header maps). A class opts in by deriving from ThreadFreeList<Itself>: its operator
// new takes a block from the calling thread's free list and its operator delete puts the block
// back, up to kMaxCached blocks per thread and class; beyond that, and for any other size (a
// subclass), the global allocator is used. Construction and destruction are unchanged: only the
// malloc/free pair goes away.
//
// Why not rely on malloc: glibc's per-thread cache keeps 7 chunks per size, and a worker with
// hundreds of HTTP/2 streams in flight frees them in bursts far larger than that, so most went
// through malloc's locked slow path (docs/performance.md, "Allocations per request").
//
// Thread-safety: each thread has its own lists (workers never share them). A block freed on
// another thread than the one that allocated it simply joins that thread's list.
#pragma once

#include <cstddef>
#include <new>

namespace weft {

// Under AddressSanitizer the lists are bypassed, so a use after free of a recycled object is
// still caught.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kThreadFreeListsEnabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kThreadFreeListsEnabled = false;
#else
inline constexpr bool kThreadFreeListsEnabled = true;
#endif
#else
inline constexpr bool kThreadFreeListsEnabled = true;
#endif

template <typename T, size_t kMaxCached = 256>
class ThreadFreeList {
 public:
  static void* operator new(size_t size) {
    if (!kThreadFreeListsEnabled) return ::operator new(size);
    List& list = ThreadList();
    if (size == sizeof(T) && list.head != nullptr) {
      Block* block = list.head;
      list.head = block->next;
      --list.cached;
      return block;
    }
    return ::operator new(size);
  }

  static void operator delete(void* p, size_t size) {
    if (p == nullptr) return;
    if (!kThreadFreeListsEnabled) {
      ::operator delete(p);
      return;
    }
    List& list = ThreadList();
    if (size != sizeof(T) || list.closed || list.cached >= kMaxCached) {
      ::operator delete(p);
      return;
    }
    auto* block = static_cast<Block*>(p);
    block->next = list.head;
    list.head = block;
    ++list.cached;
  }

  // Blocks waiting on this thread's list (for tests).
  static size_t CachedOnThisThread() { return ThreadList().cached; }

 protected:
  ThreadFreeList() = default;

 private:
  struct Block {
    Block* next;
  };
  struct List {
    Block* head = nullptr;
    size_t cached = 0;
    bool closed = false;  // the thread is exiting: frees go to the global allocator
    ~List() {
      closed = true;
      while (head != nullptr) {
        Block* next = head->next;
        ::operator delete(head);
        head = next;
      }
      cached = 0;
    }
  };
  static List& ThreadList() {
    static thread_local List list;
    return list;
  }
};

}  // namespace weft
