// ThreadFreeList: a freed object's block is handed to the next object of the same class on the
// same thread; other sizes (subclasses) and overflow go to the global allocator; threads do not
// share lists.
#include "base/thread_free_list.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace weft {
namespace {

struct Pooled : ThreadFreeList<Pooled, 4> {
  explicit Pooled(int v) : value(v) {}
  virtual ~Pooled() = default;
  int value;
  char payload[40] = {};
};

struct BiggerSubclass : Pooled {
  BiggerSubclass() : Pooled(7) {}
  char more[200] = {};
};

TEST(ThreadFreeListTest, FreedBlockIsReusedOnTheSameThread) {
  if (!kThreadFreeListsEnabled) GTEST_SKIP() << "bypassed under AddressSanitizer";
  auto a = std::make_unique<Pooled>(1);
  Pooled* address = a.get();
  const size_t before = Pooled::CachedOnThisThread();
  a.reset();
  EXPECT_EQ(Pooled::CachedOnThisThread(), before + 1);
  auto b = std::make_unique<Pooled>(2);
  EXPECT_EQ(b.get(), address);
  EXPECT_EQ(b->value, 2);  // constructed afresh
  EXPECT_EQ(Pooled::CachedOnThisThread(), before);
}

TEST(ThreadFreeListTest, SubclassesOfAnotherSizeUseTheGlobalAllocator) {
  if (!kThreadFreeListsEnabled) GTEST_SKIP() << "bypassed under AddressSanitizer";
  const size_t before = Pooled::CachedOnThisThread();
  std::unique_ptr<Pooled> p = std::make_unique<BiggerSubclass>();
  p.reset();  // virtual destructor: delete sees the subclass's size
  EXPECT_EQ(Pooled::CachedOnThisThread(), before);
}

TEST(ThreadFreeListTest, ListIsBounded) {
  if (!kThreadFreeListsEnabled) GTEST_SKIP() << "bypassed under AddressSanitizer";
  std::vector<std::unique_ptr<Pooled>> many;
  for (int i = 0; i < 10; ++i) many.push_back(std::make_unique<Pooled>(i));
  many.clear();
  EXPECT_EQ(Pooled::CachedOnThisThread(), 4u);
}

TEST(ThreadFreeListTest, EachThreadHasItsOwnList) {
  if (!kThreadFreeListsEnabled) GTEST_SKIP() << "bypassed under AddressSanitizer";
  auto a = std::make_unique<Pooled>(1);
  a.reset();
  ASSERT_GT(Pooled::CachedOnThisThread(), 0u);
  size_t on_other_thread = 99;
  std::thread([&] {
    on_other_thread = Pooled::CachedOnThisThread();
    auto b = std::make_unique<Pooled>(3);
    b.reset();  // cached on that thread, freed when it exits
  }).join();
  EXPECT_EQ(on_other_thread, 0u);
}

}  // namespace
}  // namespace weft
