#include "base/bytes_equal.h"

#include <gtest/gtest.h>

#include <string>

namespace ec {
namespace {

// Every length from 0 to 40 (the byte loop, both word sizes, memcmp) and a difference at
// every position: the overlapping loads must cover each byte exactly as memcmp does.
TEST(BytesEqual, AgreesWithMemcmpAtEveryLengthAndPosition) {
  for (size_t n = 0; n <= 40; ++n) {
    std::string a(n, 'x');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i % 26);
    std::string b = a;
    EXPECT_TRUE(BytesEqual(a.data(), b.data(), n)) << n;
    for (size_t at = 0; at < n; ++at) {
      std::string c = a;
      c[at] = static_cast<char>(c[at] ^ 0x20);
      EXPECT_FALSE(BytesEqual(a.data(), c.data(), n)) << "length " << n << ", byte " << at;
    }
  }
}

}  // namespace
}  // namespace ec
