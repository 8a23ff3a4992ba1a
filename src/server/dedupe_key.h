#pragma once
// The ingest dedupe index's key of an exchange id (docs/exactly-once.md, "Idempotent ingest"):
// 17 bytes, fixed size, so the index's maps need no string per id and RocksDB compares short
// keys that differ early.
//
//   'x' + 16 bytes  the id is 32 lower-case hex digits (nginx $request_id): the digits
//                   decoded, lossless
//   's' + 16 bytes  the id is 'x' and 32 lower-case hex digits (ingest's own stable ids,
//                   pipeline::StableExchangeId: 128 bits of SHA-256 of the record): the digits
//                   decoded, lossless (hashing them again cost ingest a SHA-256 per id per
//                   Claim, Release and indexing)
//   'u' + 16 bytes  the id is a lower-case UUID (8-4-4-4-12 hex digits): decoded, lossless
//   'h' + 16 bytes  any other id: the first 128 bits of SHA-256(id)
//
// Distinct ids of the three lossless forms never share a key (the tag tells the forms apart). Two
// distinct ids of the hashed form share one with probability 2^-128 per pair: about n^2 / 2^129
// for n ids in a window, 1.5e-21 for a billion; and making a collision on purpose means
// finding one for truncated SHA-256 (~2^64 work), or a second preimage of a given id (~2^128).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ec::server {

struct DedupeKey {
  static constexpr size_t kSize = 17;
  std::array<char, kSize> bytes;

  std::string_view view() const { return {bytes.data(), kSize}; }
  bool operator==(const DedupeKey& o) const { return std::memcmp(bytes.data(), o.bytes.data(), kSize) == 0; }
  bool operator<(const DedupeKey& o) const { return std::memcmp(bytes.data(), o.bytes.data(), kSize) < 0; }
};

// The key of a non-empty id.
DedupeKey MakeDedupeKey(std::string_view id);

// True for the keys MakeDedupeKey makes (a 17-byte RocksDB key with one of its tags).
bool IsDedupeKey(std::string_view key);

struct DedupeKeyHash {
  size_t operator()(const DedupeKey& k) const {
    // The 16 bytes are digest or id bits; mixing both halves keeps ids that differ in one half
    // only (e.g. counters in hex) apart.
    uint64_t a, b;
    std::memcpy(&a, k.bytes.data() + 1, 8);
    std::memcpy(&b, k.bytes.data() + 9, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ static_cast<unsigned char>(k.bytes[0])) * 0xbf58476d1ce4e5b9ull;
    return static_cast<size_t>(h ^ (h >> 31));
  }
};

}  // namespace ec::server
