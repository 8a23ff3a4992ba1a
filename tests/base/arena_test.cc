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

}  // namespace
}  // namespace ec
