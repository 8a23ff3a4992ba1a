#include "pipeline/canonical_text_hash.h"

#include <cpuid.h>
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "pipeline/ids.h"

namespace ec::pipeline {
namespace {

// FIPS 180-4's constants: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes (rounds) and of the square roots of the first 8 (initial state).
alignas(16) constexpr uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
alignas(16) constexpr uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define EC_SHA_NI gnu::target("sha,ssse3,sse4.1"), gnu::always_inline

// The state as the SHA instructions take it: words a, b, e, f and c, d, g, h.
struct ShaState {
  __m128i abef, cdgh;
};

[[EC_SHA_NI]] inline ShaState InitialState() {
  const __m128i cdab = _mm_shuffle_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(kInitial)), 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(kInitial + 4)), 0x1B);
  return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

// The message block at `block` (64 bytes) as four groups of four big-endian words.
[[EC_SHA_NI]] inline __m128i LoadWords(const char* at) {
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)), swap);
}

// One 64-byte block into `s` (FIPS 180-4 §6.2.2, four rounds per group of message words).
// Block1 and Block2 are the same steps; Block2's two chains are independent, so the CPU runs
// them side by side.
[[EC_SHA_NI]] inline void Block1(ShaState& s, const char* block) {
  __m128i w[4];
  for (int i = 0; i < 4; ++i) w[i] = LoadWords(block + 16 * i);
  const ShaState saved = s;
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    if (g >= 4) {
      const __m128i mid = _mm_add_epi32(_mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]),
                                        _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
      w[g & 3] = _mm_sha256msg2_epu32(mid, w[(g + 3) & 3]);
    }
    __m128i k = _mm_add_epi32(w[g & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g)));
    s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, k);
    s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(k, 0x0E));
  }
  s.abef = _mm_add_epi32(s.abef, saved.abef);
  s.cdgh = _mm_add_epi32(s.cdgh, saved.cdgh);
}

[[EC_SHA_NI]] inline void Block2(ShaState& s, const char* block, ShaState& t, const char* block_t) {
  __m128i w[4], v[4];
  for (int i = 0; i < 4; ++i) {
    w[i] = LoadWords(block + 16 * i);
    v[i] = LoadWords(block_t + 16 * i);
  }
  const ShaState saved_s = s, saved_t = t;
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    if (g >= 4) {
      const __m128i mid_w = _mm_add_epi32(_mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]),
                                          _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
      const __m128i mid_v = _mm_add_epi32(_mm_sha256msg1_epu32(v[g & 3], v[(g + 1) & 3]),
                                          _mm_alignr_epi8(v[(g + 3) & 3], v[(g + 2) & 3], 4));
      w[g & 3] = _mm_sha256msg2_epu32(mid_w, w[(g + 3) & 3]);
      v[g & 3] = _mm_sha256msg2_epu32(mid_v, v[(g + 3) & 3]);
    }
    const __m128i round = _mm_load_si128(reinterpret_cast<const __m128i*>(kRound + 4 * g));
    const __m128i k = _mm_add_epi32(w[g & 3], round), j = _mm_add_epi32(v[g & 3], round);
    s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, k);
    t.cdgh = _mm_sha256rnds2_epu32(t.cdgh, t.abef, j);
    s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(k, 0x0E));
    t.abef = _mm_sha256rnds2_epu32(t.abef, t.cdgh, _mm_shuffle_epi32(j, 0x0E));
  }
  s.abef = _mm_add_epi32(s.abef, saved_s.abef);
  s.cdgh = _mm_add_epi32(s.cdgh, saved_s.cdgh);
  t.abef = _mm_add_epi32(t.abef, saved_t.abef);
  t.cdgh = _mm_add_epi32(t.cdgh, saved_t.cdgh);
}

// A message as its blocks: the whole 64-byte blocks of its bytes, then one or two blocks of
// its last bytes, the 0x80 byte, zeros and its length in bits (big-endian), built in `tail`.
struct Blocks {
  const char* data;
  size_t whole;  // blocks read from data
  size_t count;  // whole + the tail's blocks
  char tail[128];

  explicit Blocks(std::string_view m) : data(m.data()), whole(m.size() / 64) {
    const size_t rest = m.size() % 64;
    const size_t tail_blocks = rest + 9 <= 64 ? 1 : 2;
    count = whole + tail_blocks;
    std::memset(tail, 0, sizeof tail);
    std::memcpy(tail, m.data() + 64 * whole, rest);
    tail[rest] = static_cast<char>(0x80);
    const uint64_t bits = static_cast<uint64_t>(m.size()) * 8;
    char* length = tail + 64 * tail_blocks - 8;
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(bits >> (56 - 8 * i));
  }
  const char* block(size_t k) const { return k < whole ? data + 64 * k : tail + 64 * (k - whole); }
};

// The first 16 bytes of the digest (words a, b, c, d big-endian) as 32 lower-case hex digits.
[[EC_SHA_NI]] inline void WriteHex128(const ShaState& s, char* out) {
  // abef holds a, b, e, f as words 3, 2, 1, 0 and cdgh c, d, g, h likewise: a..d are their
  // upper halves.
  const __m128i abcd = _mm_shuffle_epi32(_mm_unpackhi_epi64(s.cdgh, s.abef), 0x1B);  // words a, b, c, d
  const __m128i bytes =
      _mm_shuffle_epi8(abcd, _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
  alignas(16) unsigned char digest[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(digest), bytes);
  Hex16To(digest, out);
}

[[gnu::target("sha,ssse3,sse4.1")]] void PairShaNi(std::string_view a, char* out_a, std::string_view b, char* out_b) {
  const Blocks ba(a), bb(b);
  ShaState sa = InitialState(), sb = InitialState();
  const size_t both = ba.count < bb.count ? ba.count : bb.count;
  size_t k = 0;
  for (; k < both; ++k) Block2(sa, ba.block(k), sb, bb.block(k));
  for (size_t i = k; i < ba.count; ++i) Block1(sa, ba.block(i));
  for (size_t i = k; i < bb.count; ++i) Block1(sb, bb.block(i));
  WriteHex128(sa, out_a);
  WriteHex128(sb, out_b);
}

bool CpuHasShaNi() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = (ecx & (1u << 9)) != 0, sse41 = (ecx & (1u << 19)) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ssse3 && sse41 && (ebx & (1u << 29)) != 0;
}

}  // namespace

PairHash BestPairHash() {
  static const PairHash best = CpuHasShaNi() ? PairHash::kShaNi : PairHash::kOpenSsl;
  return best;
}

void Sha256Hex128PairTo(std::string_view a, char* out_a, std::string_view b, char* out_b, PairHash how) {
  if (how == PairHash::kShaNi) {
    PairShaNi(a, out_a, b, out_b);
    return;
  }
  Sha256Hex128To(a, out_a);
  Sha256Hex128To(b, out_b);
}

void Sha256Hex128PairTo(std::string_view a, char* out_a, std::string_view b, char* out_b) {
  Sha256Hex128PairTo(a, out_a, b, out_b, BestPairHash());
}

}  // namespace ec::pipeline
