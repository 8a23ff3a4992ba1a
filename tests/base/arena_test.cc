#include <gtest/gtest.h>

#include <cstdint>

#include "base/arena.h"

namespace ec {
namespace {

TEST(Arena, AlignsAndKeepsEarlierAllocations) {
  Arena arena(64);
  std::string_view a = arena.CopyString("hello");
  for (int i = 0; i < 1000; ++i) {
    auto* p = arena.AllocateArray<double>(3);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(double), 0u);
    p[0] = p[1] = p[2] = i;
  }
  void* big = arena.Allocate(1 << 20);
  EXPECT_NE(big, nullptr);
  EXPECT_EQ(a, "hello");
  EXPECT_GT(arena.bytes_reserved(), size_t{1} << 20);
}

TEST(Arena, MoveTransfersBlocksAndLeavesAnEmptyUsableArena) {
  Arena a(64);
  std::string_view kept = a.CopyString("kept across the move");
  for (int i = 0; i < 100; ++i) a.CopyString("filler filler filler");  // several blocks
  size_t reserved = a.bytes_reserved();
  Arena b(std::move(a));
  EXPECT_EQ(kept, "kept across the move");
  EXPECT_EQ(b.bytes_reserved(), reserved);
  EXPECT_EQ(a.bytes_reserved(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty, valid
  EXPECT_EQ(a.CopyString("again"), "again");
  Arena c;
  c.CopyString("replaced");
  c = std::move(b);
  EXPECT_EQ(kept, "kept across the move");
  EXPECT_EQ(c.bytes_reserved(), reserved);
}

TEST(Arena, LargeRequestKeepsTheCurrentBlocksTail) {
  Arena arena(1024);
  char* first = static_cast<char*>(arena.Allocate(16, 1));
  void* big = arena.Allocate(4096);
  char* next = static_cast<char*>(arena.Allocate(16, 1));
  EXPECT_NE(big, nullptr);
  EXPECT_EQ(next, first + 16);  // still bumping in the first block
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % alignof(std::max_align_t), 0u);
}

}  // namespace
}  // namespace ec
