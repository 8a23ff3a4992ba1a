#pragma once
// Byte equality of two short ranges without a call to memcmp.

#include <cstdint>
#include <cstring>

namespace ec {

// Whether the n bytes at `a` and `b` are equal. Short ranges (field names, header names,
// methods: most are under 16 bytes) compare with two overlapping word loads inside both
// ranges instead of a call to memcmp: 8-16 bytes with two 8-byte words, 4-7 with two 4-byte
// halves, fewer byte by byte.
__attribute__((always_inline)) inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    uint64_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 8);
    std::memcpy(&y0, b, 8);
    std::memcpy(&x1, a + n - 8, 8);
    std::memcpy(&y1, b + n - 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  if (n >= 4) {
    uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 4);
    std::memcpy(&y0, b, 4);
    std::memcpy(&x1, a + n - 4, 4);
    std::memcpy(&y1, b + n - 4, 4);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace ec
