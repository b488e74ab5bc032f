#include "network/buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace weft::network {
namespace {

TEST(BufferTest, AppendDrainAndView) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello ");
  b.Append("world");
  EXPECT_EQ(b.view(), "hello world");
  b.Drain(6);
  EXPECT_EQ(b.view(), "world");
  b.Drain(100);  // more than there is: empties, no underflow
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, GrowsAndCompactsKeepingTheBytes) {
  Buffer b;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    std::string piece = std::to_string(i) + ",";
    b.Append(piece);
    expected += piece;
    if (i % 7 == 0) {
      b.Drain(3);
      expected.erase(0, 3);
    }
  }
  EXPECT_EQ(b.view(), expected);
}

TEST(BufferTest, MoveTakesEverything) {
  Buffer a, b;
  a.Append("abc");
  b.Append("def");
  a.Move(b);
  EXPECT_EQ(a.view(), "abcdef");
  EXPECT_TRUE(b.empty());
  Buffer c;
  c.Move(a);  // into an empty buffer: a swap, same bytes
  EXPECT_EQ(c.view(), "abcdef");
  EXPECT_TRUE(a.empty());
}

TEST(BufferTest, ReserveAndCommit) {
  Buffer b;
  char* p = b.Reserve(5);
  std::memcpy(p, "12345", 5);
  b.Commit(5);
  EXPECT_EQ(b.view(), "12345");
  EXPECT_GE(b.TailRoom(), 0u);
}

}  // namespace
}  // namespace weft::network
