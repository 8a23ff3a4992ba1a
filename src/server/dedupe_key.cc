#include "server/dedupe_key.h"

#include <emmintrin.h>

#include <array>
#include <cstring>
#include <string>

#include "pipeline/ids.h"

namespace ec::server {
namespace {

// Decodes 16 lower-case hex digits at `hex` into 8 bytes at `out`; false (out unspecified) if
// any is not one. SSE2, the x86-64 baseline: a key is made per id on every ingest request, and
// the 16-step table loop before was ~2% of the HTTP thread in perf.
bool DecodeHex16(const char* hex, char* out) {
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hex));
  const __m128i d = _mm_sub_epi8(c, _mm_set1_epi8('0'));  // '0'..'9' -> 0..9, the rest >= 10 (wrapping)
  const __m128i digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
  const __m128i l = _mm_sub_epi8(c, _mm_set1_epi8('a'));  // 'a'..'f' -> 0..5, the rest >= 6
  const __m128i letter = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
  if (_mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xFFFF) return false;
  const __m128i v = _mm_or_si128(_mm_and_si128(digit, d), _mm_and_si128(letter, _mm_add_epi8(l, _mm_set1_epi8(10))));
  // Each 16-bit lane holds a pair: the first digit in its low byte (the high nibble), the second
  // in its high byte.
  const __m128i pairs = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, _mm_set1_epi16(0x00FF)), 4), _mm_srli_epi16(v, 8));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(pairs, _mm_setzero_si128()));
  return true;
}

// Decodes 32 hex digits into out[0..16); false if any is not a lower-case hex digit ("ABC" and
// "abc" are different ids, so only one spelling is decoded).
bool DecodeHex32(const char* hex, char* out) { return DecodeHex16(hex, out) && DecodeHex16(hex + 16, out + 8); }

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
