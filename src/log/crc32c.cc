#include "log/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ec::log {
namespace {

// Written here rather than taken from a library: every appended batch is verified on the produce
// path, so we want the SSE4.2 crc32 instruction (~8 bytes/cycle) with a portable
// slicing-by-8 table fallback, and no dependency just for one function.
constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  uint32_t t[8][256];
  constexpr Tables() : t() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};
constexpr Tables kTables;

uint32_t SoftwareCrc(const unsigned char* p, size_t n, uint32_t crc) {
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64, aarch64)
    v ^= crc;
    crc = kTables.t[7][v & 0xFF] ^ kTables.t[6][(v >> 8) & 0xFF] ^ kTables.t[5][(v >> 16) & 0xFF] ^
          kTables.t[4][(v >> 24) & 0xFF] ^ kTables.t[3][(v >> 32) & 0xFF] ^
          kTables.t[2][(v >> 40) & 0xFF] ^ kTables.t[1][(v >> 48) & 0xFF] ^ kTables.t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ kTables.t[0][(crc ^ *p++) & 0xFF];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t HardwareCrcSerial(const unsigned char* p, size_t n,
                                                              uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1 per cycle, so one
// dependent chain uses a third of it. Large inputs are cut into chunks of three kStripe-byte
// stripes whose CRCs run as three independent chains, then are joined: for the raw register
// (no inversion), crc(A || B) = Shift(crc(A)) ^ crc0(B), where Shift advances a state over
// kStripe zero bytes; Shift is linear over GF(2), so it is four 256-entry tables.
constexpr size_t kStripe = 4096;

struct ShiftTables {
  uint32_t t[4][256];
  ShiftTables() {
    static const unsigned char zeros[kStripe] = {};
    uint32_t basis[32];
    for (int b = 0; b < 32; ++b) basis[b] = HardwareCrcSerial(zeros, kStripe, 1u << b);
    for (int k = 0; k < 4; ++k) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t r = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (v & (1u << bit)) r ^= basis[8 * k + bit];
        }
        t[k][v] = r;
      }
    }
  }
  uint32_t Shift(uint32_t c) const {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t HardwareCrc(const unsigned char* p, size_t n,
                                                        uint32_t crc) {
  if (n >= 3 * kStripe) {
    static const ShiftTables shift;
    while (n >= 3 * kStripe) {
      uint64_t c0 = crc, c1 = 0, c2 = 0;
      for (size_t i = 0; i < kStripe; i += 8) {
        uint64_t v0, v1, v2;
        std::memcpy(&v0, p + i, 8);
        std::memcpy(&v1, p + kStripe + i, 8);
        std::memcpy(&v2, p + 2 * kStripe + i, 8);
        c0 = _mm_crc32_u64(c0, v0);
        c1 = _mm_crc32_u64(c1, v1);
        c2 = _mm_crc32_u64(c2, v2);
      }
      crc = shift.Shift(shift.Shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^
            static_cast<uint32_t>(c2);
      p += 3 * kStripe;
      n -= 3 * kStripe;
    }
  }
  return HardwareCrcSerial(p, n, crc);
}

// Carry-less multiply folding (bit-reflected CRC): a 128-bit lane L:H (L = its first 8 bytes,
// the higher-degree half) placed D bits before the end is worth, modulo P, the lane
// clmul(L, x^(D+63) mod P) ^ clmul(H, x^(D-1) mod P) at the end (the -1 because the product of
// two reflected 64-bit operands comes out one bit short of 128). Sixteen lanes (four 512-bit
// registers) fold 256 bytes per step; at the end the lanes are folded into one, whose CRC the
// crc32 instruction finishes. About 4x the bytes per cycle of the three crc32 chains.
#define EC_VPCLMUL_TARGET __attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.2")))

// x^n mod P as the clmul operand: the coefficient of x^j at bit 63 - j.
uint64_t FoldConstant(unsigned n) {
  constexpr uint32_t kPolyNormal = 0x1EDC6F41u;  // P in normal bit order, x^32 implicit
  uint32_t r = 1;
  for (unsigned i = 0; i < n; ++i) r = (r << 1) ^ ((r & 0x80000000u) ? kPolyNormal : 0);
  uint64_t k = 0;
  for (int j = 0; j < 32; ++j) {
    if (r & (1u << j)) k |= uint64_t{1} << (63 - j);
  }
  return k;
}

// The two constants that fold a 128-bit lane D bits ahead: {x^(D+63) mod P, x^(D-1) mod P}.
struct FoldKey {
  alignas(16) uint64_t k[2];
  explicit FoldKey(unsigned d) : k{FoldConstant(d + 63), FoldConstant(d - 1)} {}
  __m128i Load() const { return _mm_load_si128(reinterpret_cast<const __m128i*>(k)); }
};

EC_VPCLMUL_TARGET inline __m512i Fold512(__m512i x, __m512i k, __m512i next) {
  __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
  __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}

__attribute__((target("pclmul,sse4.2"))) inline __m128i Fold128(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// The raw CRC state of a fold's last 128 bits: the crc32 instruction over them from 0 reduces
// them modulo P, bit-reflected as the fold keeps them.
__attribute__((target("pclmul,sse4.2"))) inline uint32_t FoldedState(__m128i a) {
  uint64_t c = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(a)));
  c = _mm_crc32_u64(c, static_cast<uint64_t>(_mm_extract_epi64(a, 1)));
  return static_cast<uint32_t>(c);
}

// Raw CRC state after `n` >= 256 bytes from state `crc`.
EC_VPCLMUL_TARGET uint32_t FoldCrc(const unsigned char* p, size_t n, uint32_t crc) {
  static const FoldKey f128(128), f512(512), f2048(2048);
  const __m512i k2048 = _mm512_broadcast_i32x4(f2048.Load());
  const __m512i k512 = _mm512_broadcast_i32x4(f512.Load());
  const __m128i k128 = f128.Load();
  // A starting state is the same as XORing it into the first four bytes and starting from 0.
  __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p),
                                _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m512i x1 = _mm512_loadu_si512(p + 64);
  __m512i x2 = _mm512_loadu_si512(p + 128);
  __m512i x3 = _mm512_loadu_si512(p + 192);
  p += 256;
  n -= 256;
  for (; n >= 256; p += 256, n -= 256) {
    x0 = Fold512(x0, k2048, _mm512_loadu_si512(p));
    x1 = Fold512(x1, k2048, _mm512_loadu_si512(p + 64));
    x2 = Fold512(x2, k2048, _mm512_loadu_si512(p + 128));
    x3 = Fold512(x3, k2048, _mm512_loadu_si512(p + 192));
  }
  x3 = Fold512(Fold512(Fold512(x0, k512, x1), k512, x2), k512, x3);
  __m128i a = _mm512_extracti32x4_epi32(x3, 0);
  a = Fold128(a, k128, _mm512_extracti32x4_epi32(x3, 1));
  a = Fold128(a, k128, _mm512_extracti32x4_epi32(x3, 2));
  a = Fold128(a, k128, _mm512_extracti32x4_epi32(x3, 3));
  return HardwareCrcSerial(p, n, FoldedState(a));
}

// The same folding with 256-bit registers (AVX2 + VPCLMULQDQ, no AVX-512: the AMD EPYC this runs
// on): four ymm lanes of 32 bytes fold 128 bytes per step, then one lane folds 32 bytes at a
// time so at most 31 bytes are left for the crc32 instruction.
#define EC_VPCLMUL256_TARGET __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2")))

EC_VPCLMUL256_TARGET inline __m256i Fold256(__m256i x, __m256i k, __m256i next) {
  __m256i lo = _mm256_clmulepi64_epi128(x, k, 0x00);
  __m256i hi = _mm256_clmulepi64_epi128(x, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(lo, next), hi);
}

EC_VPCLMUL256_TARGET inline __m256i Load256(const unsigned char* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Raw CRC state after `n` >= kFold256Min bytes from state `crc`.
constexpr size_t kFold256Min = 128;
EC_VPCLMUL256_TARGET uint32_t FoldCrc256(const unsigned char* p, size_t n, uint32_t crc) {
  static const FoldKey f128(128), f256(256), f1024(1024);
  const __m256i k1024 = _mm256_broadcastsi128_si256(f1024.Load());
  const __m256i k256 = _mm256_broadcastsi128_si256(f256.Load());
  const __m128i k128 = f128.Load();
  // A starting state is the same as XORing it into the first four bytes and starting from 0.
  __m256i x0 = _mm256_xor_si256(Load256(p), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m256i x1 = Load256(p + 32);
  __m256i x2 = Load256(p + 64);
  __m256i x3 = Load256(p + 96);
  p += 128;
  n -= 128;
  for (; n >= 128; p += 128, n -= 128) {
    x0 = Fold256(x0, k1024, Load256(p));
    x1 = Fold256(x1, k1024, Load256(p + 32));
    x2 = Fold256(x2, k1024, Load256(p + 64));
    x3 = Fold256(x3, k1024, Load256(p + 96));
  }
  x3 = Fold256(Fold256(Fold256(x0, k256, x1), k256, x2), k256, x3);
  for (; n >= 32; p += 32, n -= 32) x3 = Fold256(x3, k256, Load256(p));
  __m128i a = Fold128(_mm256_castsi256_si128(x3), k128, _mm256_extracti128_si256(x3, 1));
  return HardwareCrcSerial(p, n, FoldedState(a));
}

const bool kHaveSse42 = __builtin_cpu_supports("sse4.2");
const bool kHaveVpclmul256 = kHaveSse42 && __builtin_cpu_supports("avx2") &&
                             __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
const bool kHaveVpclmul = kHaveSse42 && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
#endif

// Polynomials modulo P in the bit-reflected form the CRC uses: bit 31 is x^0, bit 0 x^31.
// a * b mod P, one bit of `a` at a time (the reference; MultiplyModP is the fast one).
uint32_t MultiplyModPPortable(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;  // b * x
  }
  return product;
}

#if defined(__x86_64__)
// The carry-less product of two reflected 32-bit polynomials, shifted up by one, holds x^0 ..
// x^31 of the product in its high half (already reduced) and x^32 .. x^63 in its low half; the
// crc32 instruction of that half is exactly its value times x^32 modulo P.
__attribute__((target("pclmul,sse4.2"))) uint32_t MultiplyModPClmul(uint32_t a, uint32_t b) {
  const __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)), _mm_cvtsi32_si128(static_cast<int>(b)), 0);
  const uint64_t product = static_cast<uint64_t>(_mm_cvtsi128_si64(p)) << 1;
  return _mm_crc32_u32(0, static_cast<uint32_t>(product)) ^ static_cast<uint32_t>(product >> 32);
}
const bool kHaveClmul = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
#endif

uint32_t MultiplyModP(uint32_t a, uint32_t b) {
#if defined(__x86_64__)
  if (kHaveClmul) return MultiplyModPClmul(a, b);
#endif
  return MultiplyModPPortable(a, b);
}

// x^(2^k) mod P for k = 0 .. 63.
struct PowerTable {
  uint32_t x2k[64];
  PowerTable() {
    uint32_t p = 1u << 30;  // x^1
    for (uint32_t& e : x2k) {
      e = p;
      p = MultiplyModPPortable(p, p);
    }
  }
};

// x^(8 len) mod P: the product of the x^(2^k) for the bits of 8 len.
uint32_t ZeroBytesShift(uint64_t len) {
  static const PowerTable powers;
  uint32_t shift = 1u << 31;  // x^0
  for (unsigned k = 3; len != 0 && k < 64; ++k, len >>= 1) {
    if (len & 1) shift = MultiplyModP(shift, powers.x2k[k]);
  }
  return shift;
}

#if defined(__x86_64__)
// On this CPU a 256-bit carry-less multiply issues every other cycle, so the fold above runs at
// about the crc32 instruction's 8 bytes per cycle, on other execution units. Large inputs are cut
// in two: the first half is folded while the second, as four stripes, runs through four crc32
// chains in the same loop; the five raw states are then joined (the raw state of A || B from
// state s is raw(s, A) * x^(8|B|) ^ raw(0, B)).
constexpr size_t kHybridMin = 8192;
// 32 bytes of each of four stripes `stripe` bytes apart, from offset `at`, into chains c[0..3].
EC_VPCLMUL256_TARGET inline void Crc32Stripes4(const unsigned char* s, size_t stripe, size_t at, uint64_t* c) {
  for (size_t i = at; i < at + 32; i += 8) {
    uint64_t v0, v1, v2, v3;
    std::memcpy(&v0, s + i, 8);
    std::memcpy(&v1, s + stripe + i, 8);
    std::memcpy(&v2, s + 2 * stripe + i, 8);
    std::memcpy(&v3, s + 3 * stripe + i, 8);
    c[0] = _mm_crc32_u64(c[0], v0);
    c[1] = _mm_crc32_u64(c[1], v1);
    c[2] = _mm_crc32_u64(c[2], v2);
    c[3] = _mm_crc32_u64(c[3], v3);
  }
}
EC_VPCLMUL256_TARGET uint32_t HybridCrc256(const unsigned char* p, size_t n, uint32_t crc) {
  static const FoldKey f128(128), f256(256), f1024(1024);
  const __m256i k1024 = _mm256_broadcastsi128_si256(f1024.Load());
  const __m256i k256 = _mm256_broadcastsi128_si256(f256.Load());
  const __m128i k128 = f128.Load();
  // Eight parts of `stripe` bytes (a multiple of 32): four folded, four crc32 stripes.
  const size_t stripe = (n / 8) & ~size_t{31};
  const unsigned char* s = p + 4 * stripe;  // the first crc32 stripe
  __m256i x0 = _mm256_xor_si256(Load256(p), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m256i x1 = Load256(p + 32);
  __m256i x2 = Load256(p + 64);
  __m256i x3 = Load256(p + 96);
  uint64_t c[4] = {0, 0, 0, 0};
  Crc32Stripes4(s, stripe, 0, c);
  // Each step folds 128 bytes and runs each crc32 chain over 32.
  for (size_t v = 128, at = 32; at < stripe; v += 128, at += 32) {
    x0 = Fold256(x0, k1024, Load256(p + v));
    x1 = Fold256(x1, k1024, Load256(p + v + 32));
    x2 = Fold256(x2, k1024, Load256(p + v + 64));
    x3 = Fold256(x3, k1024, Load256(p + v + 96));
    Crc32Stripes4(s, stripe, at, c);
  }
  x3 = Fold256(Fold256(Fold256(x0, k256, x1), k256, x2), k256, x3);
  __m128i a = Fold128(_mm256_castsi256_si128(x3), k128, _mm256_extracti128_si256(x3, 1));
  const uint32_t shift = ZeroBytesShift(stripe);
  uint32_t state = FoldedState(a);
  for (uint64_t part : c) state = MultiplyModP(state, shift) ^ static_cast<uint32_t>(part);
  p += 8 * stripe;
  n -= 8 * stripe;
  return n >= kFold256Min ? FoldCrc256(p, n, state) : HardwareCrcSerial(p, n, state);
}
#endif

}  // namespace

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  // With the CRC's pre- and post-inversion, crc(A || B) = crc(A) * x^(8 len_b) ^ crc(B) mod P
  // (the inversions of A's end and B's start cancel).
  return MultiplyModP(ZeroBytesShift(len_b), crc_a) ^ crc_b;
}

uint32_t Crc32cPortable(std::string_view data, uint32_t crc) {
  return ~SoftwareCrc(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (kHaveVpclmul && data.size() >= 256) return ~FoldCrc(p, data.size(), crc);
  if (kHaveVpclmul256 && data.size() >= kFold256Min) {
    return ~(data.size() >= kHybridMin ? HybridCrc256(p, data.size(), crc) : FoldCrc256(p, data.size(), crc));
  }
  if (kHaveSse42) return ~HardwareCrc(p, data.size(), crc);
#endif
  return ~SoftwareCrc(p, data.size(), crc);
}

bool Crc32cAvailable(Crc32cImpl impl) {
  switch (impl) {
    case Crc32cImpl::kTable: return true;
#if defined(__x86_64__)
    case Crc32cImpl::kSse42: return kHaveSse42;
    case Crc32cImpl::kVpclmul: return kHaveVpclmul;
    case Crc32cImpl::kVpclmul256: return kHaveVpclmul256;
#endif
    default: return false;
  }
}

uint32_t Crc32cWith(Crc32cImpl impl, std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (impl == Crc32cImpl::kVpclmul && kHaveVpclmul) {
    return ~(data.size() >= 256 ? FoldCrc(p, data.size(), crc) : HardwareCrc(p, data.size(), crc));
  }
  if (impl == Crc32cImpl::kVpclmul256 && kHaveVpclmul256) {
    if (data.size() < kFold256Min) return ~HardwareCrc(p, data.size(), crc);
    return ~(data.size() >= kHybridMin ? HybridCrc256(p, data.size(), crc) : FoldCrc256(p, data.size(), crc));
  }
  if (impl == Crc32cImpl::kSse42 && kHaveSse42) return ~HardwareCrc(p, data.size(), crc);
#endif
  return ~SoftwareCrc(p, data.size(), crc);
}

}  // namespace ec::log
