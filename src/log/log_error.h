#pragma once
// Outcomes of appends and reads that a Kafka response must name precisely (Status cannot).

#include <cstdint>
#include <string_view>

namespace ec::log {

enum class LogError : uint8_t {
  kNone = 0,
  kOffsetOutOfRange,      // read offset < log start or > log end
  kCorruptMessage,        // bad CRC, bad framing, malformed records
  kMessageTooLarge,       // a batch exceeds max.message.bytes
  kInvalidRecord,         // e.g. a compacted topic got a record without a key
  kInvalidTimestamp,
  kOutOfOrderSequence,    // idempotent producer skipped a sequence number
  kDuplicateSequence,     // never returned by Append (duplicates succeed with the old offsets)
  kInvalidProducerEpoch,  // producer fenced: epoch older than the one we know
  kUnknownProducerId,     // sequence != 0 from a producer we have no state for
  kInvalidTxnState,       // control batch without an open transaction, etc.
  kUnsupportedForMessageFormat,  // magic 0/1
  kStorageError,          // I/O failure; the partition goes read-only until reopened
  kShuttingDown,
};

// The Kafka protocol error code for `e` (0 for kNone).
int16_t KafkaErrorCode(LogError e);
std::string_view LogErrorName(LogError e);

}  // namespace ec::log
