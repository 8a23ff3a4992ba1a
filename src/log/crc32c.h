#pragma once
// CRC32C (Castagnoli), the checksum of Kafka RecordBatch v2.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ec::log {

// CRC32C of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
// The CRC32C of A followed by B, from crc_a = Crc32c(A), crc_b = Crc32c(B) and B's length,
// without reading either (crc_a is advanced over len_b zero bits by a multiplication modulo the
// polynomial: a few dozen instructions whatever the length).
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
// The same with the table-driven code only (the reference the hardware paths are tested
// against).
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);

// The implementations, for tests and benchmarks; Crc32c uses the fastest this CPU has.
enum class Crc32cImpl : uint8_t {
  kTable,    // slicing-by-8 tables
  kSse42,    // the crc32 instruction, three interleaved chains from 12 KiB
  kVpclmul,  // carry-less multiply folding of four 512-bit lanes (AVX-512 VPCLMULQDQ), from 256 B
  kVpclmul256,  // the same with four 256-bit lanes (AVX2 + VPCLMULQDQ), from 128 B
};
bool Crc32cAvailable(Crc32cImpl impl);
// CRC32C of `data` with `impl` (which must be available), continuing from `crc`.
uint32_t Crc32cWith(Crc32cImpl impl, std::string_view data, uint32_t crc = 0);

}  // namespace ec::log
