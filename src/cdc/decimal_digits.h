#pragma once
// Decimal digits of an integer as std::to_chars writes them, for the changelog envelope's
// `ts_ms` (13 digits per record): to_chars took ~190 instructions for it, two digits per
// division step after a length search; this converts eight digits at once in a 64-bit word
// (~40 instructions for a 13-digit value).

#include <charconv>
#include <cstdint>
#include <cstring>

namespace ec::cdc {

// The eight decimal digits of `x` (< 10^8, leading zeros included) as ASCII bytes, the most
// significant first in memory order (little-endian word). Each 32-bit half holds four digits,
// then each 16-bit quarter two, then each byte one: a division by 100 or 10 per lane as a
// multiply and shift (exact for the ranges held: n < 10^4 and n < 100).
inline uint64_t EightDigitsAscii(uint32_t x) {
  uint64_t v = static_cast<uint64_t>(x / 10000) | (static_cast<uint64_t>(x % 10000) << 32);
  const uint64_t hundreds = ((v * 5243) >> 19) & 0x0000007F0000007Full;
  v = hundreds | ((v - hundreds * 100) << 16);
  const uint64_t tens = ((v * 103) >> 10) & 0x000F000F000F000Full;
  v = tens | ((v - tens * 10) << 8);
  return v + 0x3030303030303030ull;
}

// Writes `v` in decimal at `o` (room for 20 characters) exactly as std::to_chars does, and
// returns the end of what was written.
inline char* WriteDecimal(char* o, int64_t v) {
  constexpr uint64_t kTen8 = 100000000;
  if (v < 0 || static_cast<uint64_t>(v) >= kTen8 * kTen8) return std::to_chars(o, o + 20, v).ptr;
  const auto u = static_cast<uint64_t>(v);
  const uint64_t lo = EightDigitsAscii(static_cast<uint32_t>(u % kTen8));
  if (u < kTen8) {
    // Leading zeros are the low bytes equal to '0'; at least one digit stays.
    const uint64_t values = lo - 0x3030303030303030ull;
    const int skip = values == 0 ? 7 : __builtin_ctzll(values) / 8;
    const uint64_t shifted = lo >> (8 * skip);
    std::memcpy(o, &shifted, 8);  // the bytes past the digits are overwritten or unused
    return o + (8 - skip);
  }
  const uint64_t hi = EightDigitsAscii(static_cast<uint32_t>(u / kTen8));
  const int skip = __builtin_ctzll(hi - 0x3030303030303030ull) / 8;  // hi's value is not 0
  const uint64_t shifted = hi >> (8 * skip);
  std::memcpy(o, &shifted, 8);
  o += 8 - skip;
  std::memcpy(o, &lo, 8);
  return o + 8;
}

}  // namespace ec::cdc
