#pragma once
// CRC32C (Castagnoli), the checksum of Kafka RecordBatch v2.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ec::log {

// CRC32C of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);
// The same with the table-driven code only (the reference the hardware paths are tested
// against).
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);

}  // namespace ec::log
