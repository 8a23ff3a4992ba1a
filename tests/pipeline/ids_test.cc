// ids.cc's hex digits against an independent formatting: OpenSSL's digest of the same bytes,
// written with snprintf("%02x"), for many inputs (every nibble value in every position), so the
// vectorised formatting cannot change an exchange id or an event id.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pipeline/ids.h"

#include <openssl/sha.h>

#include <cstdio>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace ec::pipeline {
namespace {

std::string HexOf(const unsigned char* p, size_t n) {
  std::string out;
  char two[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(two, sizeof(two), "%02x", p[i]);
    out += two;
  }
  return out;
}

// What UuidV5 must give: SHA-1 of the namespace and the name, version and variant bits set,
// "8-4-4-4-12" (RFC 9562 section 5.5).
std::string ReferenceUuidV5(const std::string& name) {
  static const unsigned char kNamespace[16] = {0x6b, 0x3e, 0x0f, 0x52, 0x9a, 0x41, 0x4c, 0x8e,
                                               0xb1, 0x7d, 0x22, 0x90, 0x5e, 0xc4, 0x13, 0xa7};
  std::string input(reinterpret_cast<const char*>(kNamespace), sizeof(kNamespace));
  input += name;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), md);
  md[6] = static_cast<unsigned char>((md[6] & 0x0f) | 0x50);
  md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);
  const std::string hex = HexOf(md, 16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

TEST(IdsHexTest, Sha256Hex128AsSnprintfWritesIt) {
  std::mt19937_64 rng(20261128);
  size_t nibbles_seen[32][16] = {};
  for (int i = 0; i < 4000; ++i) {
    std::string data(rng() % 700, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    const std::string want = HexOf(md, 16);
    ASSERT_EQ(Sha256Hex128(data), want) << i;
    std::string appended = "prefix";
    AppendSha256Hex128(data, &appended);
    ASSERT_EQ(appended, "prefix" + want) << i;
    char room[kSha256Hex128Length + 2] = {};
    Sha256Hex128To(data, room + 1);
    ASSERT_EQ(std::string_view(room + 1, kSha256Hex128Length), want) << i;
    ASSERT_EQ(room[0], '\0');  // nothing written outside its room
    ASSERT_EQ(room[kSha256Hex128Length + 1], '\0');
    // The hashed bytes may be the string appended to (it grows, maybe moves, after the hash).
    std::string self = data;
    self.shrink_to_fit();
    AppendSha256Hex128(self, &self);
    ASSERT_EQ(self, data + want) << i;
    for (size_t at = 0; at < 32; ++at) {
      const char c = want[at];
      ++nibbles_seen[at][c <= '9' ? c - '0' : c - 'a' + 10];
    }
  }
  // The inputs covered every digit (0-9 and a-f) at every position.
  for (size_t at = 0; at < 32; ++at) {
    for (size_t n = 0; n < 16; ++n) EXPECT_GT(nibbles_seen[at][n], 0u) << at << " " << n;
  }
}

TEST(IdsHexTest, UuidsAsTheReferenceWritesThem) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 4000; ++i) {
    std::string name(rng() % 80, '\0');
    for (char& c : name) c = static_cast<char>(rng());
    ASSERT_EQ(UuidV5(name), ReferenceUuidV5(name)) << i;
  }
  for (size_t index : {size_t{0}, size_t{9}, size_t{12}, size_t{123456789}}) {
    const std::string ex = "x0123456789abcdef0123456789abcdef";
    EXPECT_EQ(EventId(ex, "shop.order.placed", index),
              ReferenceUuidV5(ex + "\nshop.order.placed\n" + std::to_string(index)));
  }
}

}  // namespace
}  // namespace ec::pipeline
