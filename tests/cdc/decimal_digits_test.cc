// WriteDecimal (the changelog envelope's ts_ms) writes what std::to_chars writes.
#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cdc/decimal_digits.h"

namespace ec::cdc {
namespace {

std::string ToChars(int64_t v) {
  char buf[24];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

std::string Written(int64_t v) {
  char buf[24];
  return std::string(buf, WriteDecimal(buf, v));
}

TEST(DecimalDigits, EdgesWriteWhatToCharsWrites) {
  std::vector<int64_t> values = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10000, 10001, 99999999,
                                 100000000, 100000001, 1795773600000, 9999999999999999, 10000000000000000,
                                 std::numeric_limits<int64_t>::max(), -1, -1795773600000,
                                 std::numeric_limits<int64_t>::min()};
  // Every power of ten and its neighbours, each digit count's first and last values.
  for (int64_t p = 1; p <= std::numeric_limits<int64_t>::max() / 10; p *= 10) {
    for (int64_t d : {-1, 0, 1}) values.push_back(p * 10 + d);
  }
  for (int64_t v : values) ASSERT_EQ(Written(v), ToChars(v)) << v;
}

TEST(DecimalDigits, RandomValuesOfEveryLengthWriteWhatToCharsWrites) {
  std::mt19937_64 rng(20261129);
  for (int i = 0; i < 400000; ++i) {
    // A random length first, so short values are as common as long ones.
    const int bits = static_cast<int>(rng() % 64);
    const int64_t v = static_cast<int64_t>(rng() >> (64 - bits - 1) >> 1);
    ASSERT_EQ(Written(v), ToChars(v)) << v;
    ASSERT_EQ(Written(-v), ToChars(-v)) << -v;
  }
  // Every value of eight digits' leading-zero handling below 10^5, and exchange times around now.
  for (int64_t v = 0; v < 100000; ++v) ASSERT_EQ(Written(v), ToChars(v)) << v;
  for (int64_t v = 1795773600000; v < 1795773600000 + 200000; ++v) ASSERT_EQ(Written(v), ToChars(v)) << v;
}

TEST(DecimalDigits, EightDigitsOfEveryFourDigitHalf) {
  // Each half of the word goes through the same lanes: every value of either half, the other fixed.
  for (uint32_t h = 0; h < 10000; ++h) {
    for (uint32_t x : {h, h * 10000, h * 10000 + 9999, 12340000 + h}) {
      const uint64_t w = EightDigitsAscii(x);
      char buf[9];
      std::snprintf(buf, sizeof buf, "%08u", x);
      ASSERT_EQ(std::string(reinterpret_cast<const char*>(&w), 8), std::string(buf, 8)) << x;
    }
  }
}

}  // namespace
}  // namespace ec::cdc
