#pragma once
// The four Kafka batch compressions: whole-buffer compress/decompress of a batch's records.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ec::log {

// Values of attributes bits 0-2 of a RecordBatch v2.
enum class Compression : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd".
std::string_view CompressionName(Compression c);
// Parses the names above (Kafka's compression.type values, minus "producer"/"uncompressed").
Result<Compression> ParseCompression(std::string_view name);

// Appends the compressed form of `in` to `*out`. Snappy is written with the xerial framing the
// Java client uses (every Kafka client reads it); lz4 as an LZ4 frame; gzip as a gzip stream.
Status Compress(Compression c, std::string_view in, std::string* out);
// Appends the decompressed form of `in` to `*out`, refusing to grow past `max_output` bytes
// (LimitExceeded). Snappy: xerial-framed or raw. Returns Corruption on malformed input.
Status Decompress(Compression c, std::string_view in, size_t max_output, std::string* out);

}  // namespace ec::log
