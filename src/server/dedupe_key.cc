#include "server/dedupe_key.h"

#include <array>
#include <cstring>
#include <string>

#include "pipeline/ids.h"

namespace ec::server {
namespace {

// Lower-case hex digit values; 0xff for anything else, upper case too ("ABC" and "abc" are
// different ids, so only one spelling is decoded).
constexpr std::array<uint8_t, 256> kHex = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  return t;
}();

// Decodes 32 hex digits into out[0..16); false if any is not a lower-case hex digit.
bool DecodeHex32(const char* hex, char* out) {
  uint8_t bad = 0;
  for (int i = 0; i < 16; ++i) {
    const uint8_t hi = kHex[static_cast<unsigned char>(hex[2 * i])];
    const uint8_t lo = kHex[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return (bad & 0xf0) == 0;
}

}  // namespace

DedupeKey MakeDedupeKey(std::string_view id) {
  DedupeKey k;
  if (id.size() == 32 && DecodeHex32(id.data(), k.bytes.data() + 1)) {
    k.bytes[0] = 'x';
    return k;
  }
  if (id.size() == 33 && id[0] == 'x' && DecodeHex32(id.data() + 1, k.bytes.data() + 1)) {
    k.bytes[0] = 's';
    return k;
  }
  if (id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-') {
    char hex[32];  // 8-4-4-4-12 without the dashes
    std::memcpy(hex, id.data(), 8);
    std::memcpy(hex + 8, id.data() + 9, 4);
    std::memcpy(hex + 12, id.data() + 14, 4);
    std::memcpy(hex + 16, id.data() + 19, 4);
    std::memcpy(hex + 20, id.data() + 24, 12);
    if (DecodeHex32(hex, k.bytes.data() + 1)) {
      k.bytes[0] = 'u';
      return k;
    }
  }
  k.bytes[0] = 'h';
  const std::string digest = pipeline::Sha256Hex128(id);  // 32 lower-case hex digits
  DecodeHex32(digest.data(), k.bytes.data() + 1);
  return k;
}

bool IsDedupeKey(std::string_view key) {
  return key.size() == DedupeKey::kSize && (key[0] == 'x' || key[0] == 's' || key[0] == 'u' || key[0] == 'h');
}

}  // namespace ec::server
