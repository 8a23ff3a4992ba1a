// SHA1_* and SHA256_* (deprecated in OpenSSL 3, still exported) hash on the stack: the EVP
// interface allocated its per-call state (CRYPTO_zalloc in EVP_DigestInit_ex) and took ~2,000
// instructions of dispatch per event id, more than hashing its ~60 bytes; for SHA-256 of a
// 680-byte exchange, even with the digest fetched once and the context reused, it cost ~100 ns
// more than the low-level calls (580 vs 460 ns with SHA-NI), a fifth of the hash.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pipeline/ids.h"

#include <openssl/sha.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include <emmintrin.h>  // SSE2

namespace ec::pipeline {
namespace {

// Eventception's UUID namespace (a fixed random v4 UUID), so our ids never collide with
// v5 UUIDs of other namespaces.
constexpr uint8_t kNamespace[16] = {0x6b, 0x3e, 0x0f, 0x52, 0x9a, 0x41, 0x4c, 0x8e,
                                    0xb1, 0x7d, 0x22, 0x90, 0x5e, 0xc4, 0x13, 0xa7};

// Ends a name-based UUID's hash (`ctx` has the namespace and the name) and writes its text.
void FinishUuid(SHA_CTX* ctx, char* out) {
  uint8_t md[SHA_DIGEST_LENGTH];
  SHA1_Final(md, ctx);
  md[6] = static_cast<uint8_t>((md[6] & 0x0f) | 0x50);  // version 5
  md[8] = static_cast<uint8_t>((md[8] & 0x3f) | 0x80);  // RFC 4122 variant
  // "8-4-4-4-12": the 32 digits of the first 16 bytes, cut by the dashes.
  char hex[32];
  Hex16To(md, hex);
  std::memcpy(out, hex, 8);
  out[8] = '-';
  std::memcpy(out + 9, hex + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, hex + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, hex + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, hex + 20, 12);
}

}  // namespace

// The 32 lower-case hex digits of 16 bytes, SSE2 (the x86-64 baseline): each byte's two nibbles
// side by side, '0' + n, and 'a' - 10 + n where n > 9. One pass of ~15 instructions instead of
// a table lookup and two stores per byte (~100 instructions per exchange id at ingest, and per
// event id in the pipeline).
void Hex16To(const unsigned char* p, char* out) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i low_mask = _mm_set1_epi8(0x0f);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_mask);
  const __m128i low = _mm_and_si128(bytes, low_mask);
  auto digits = [](__m128i n) {
    const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(n, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
    return _mm_add_epi8(_mm_add_epi8(n, _mm_set1_epi8('0')), letter);
  };
  // Byte i's digits at 2i (high nibble) and 2i + 1.
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), digits(_mm_unpacklo_epi8(high, low)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), digits(_mm_unpackhi_epi8(high, low)));
}

void Sha256Hex128To(std::string_view data, char* out) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256_Final(md, &ctx);
  Hex16To(md, out);
}

void AppendSha256Hex128(std::string_view data, std::string* out) {
  char hex[kSha256Hex128Length];
  Sha256Hex128To(data, hex);  // before *out grows: `data` may lie in it
  out->append(hex, sizeof(hex));
}

std::string Sha256Hex128(std::string_view data) {
  std::string out;
  out.reserve(32);
  AppendSha256Hex128(data, &out);
  return out;
}

void UuidV5To(std::string_view name, char* out) {
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, kNamespace, sizeof(kNamespace));
  SHA1_Update(&ctx, name.data(), name.size());
  FinishUuid(&ctx, out);
}

std::string UuidV5(std::string_view name) {
  std::string out(kUuidLength, '\0');
  UuidV5To(name, out.data());
  return out;
}

void EventIdTo(std::string_view exchange_id, std::string_view type, size_t index, char* out) {
  // The name "exchange_id\ntype\nindex", after the namespace, on the stack (no allocation).
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), index);
  (void)ec;  // 24 digits hold any size_t
  const size_t n_digits = static_cast<size_t>(end - digits);
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  // Usual ids fit one stack buffer: one SHA1_Update instead of six (each buffers its bytes
  // and takes ~100 instructions of its own for a few bytes).
  char name[256];
  const size_t total = sizeof(kNamespace) + exchange_id.size() + type.size() + n_digits + 2;
  if (total <= sizeof(name)) {
    char* p = name;
    std::memcpy(p, kNamespace, sizeof(kNamespace));
    p += sizeof(kNamespace);
    std::memcpy(p, exchange_id.data(), exchange_id.size());
    p += exchange_id.size();
    *p++ = '\n';
    std::memcpy(p, type.data(), type.size());
    p += type.size();
    *p++ = '\n';
    std::memcpy(p, digits, n_digits);
    SHA1_Update(&ctx, name, total);
    FinishUuid(&ctx, out);
    return;
  }
  SHA1_Update(&ctx, kNamespace, sizeof(kNamespace));
  SHA1_Update(&ctx, exchange_id.data(), exchange_id.size());
  SHA1_Update(&ctx, "\n", 1);
  SHA1_Update(&ctx, type.data(), type.size());
  SHA1_Update(&ctx, "\n", 1);
  SHA1_Update(&ctx, digits, n_digits);
  FinishUuid(&ctx, out);
}

std::string EventId(std::string_view exchange_id, std::string_view type, size_t index) {
  std::string out(kUuidLength, '\0');
  EventIdTo(exchange_id, type, index, out.data());
  return out;
}

}  // namespace ec::pipeline
