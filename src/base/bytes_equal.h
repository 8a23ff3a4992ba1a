#pragma once
// Byte equality of two short ranges without a call to memcmp.

#include <cstdint>
#include <cstring>

namespace ec {

// Whether the first and the last sizeof(Word) bytes of two n-byte ranges are equal
// (sizeof(Word) <= n <= 2 * sizeof(Word): together they cover every byte).
template <class Word>
__attribute__((always_inline)) inline bool EndWordsEqual(const char* a, const char* b, size_t n) {
  Word x0, y0, x1, y1;
  std::memcpy(&x0, a, sizeof(Word));
  std::memcpy(&y0, b, sizeof(Word));
  std::memcpy(&x1, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&y1, b + n - sizeof(Word), sizeof(Word));
  return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

// Whether the n bytes at `a` and `b` are equal. Short ranges (field names, header names,
// methods: most are under 16 bytes) compare with two overlapping word loads inside both
// ranges instead of a call to memcmp: 8-16 bytes with two 8-byte words, 4-7 with two 4-byte
// halves, fewer byte by byte.
__attribute__((always_inline)) inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return EndWordsEqual<uint64_t>(a, b, n);
  if (n >= 4) return EndWordsEqual<uint32_t>(a, b, n);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace ec
