#include "log/log_error.h"

namespace ec::log {

int16_t KafkaErrorCode(LogError e) {
  switch (e) {
    case LogError::kNone: return 0;
    case LogError::kOffsetOutOfRange: return 1;
    case LogError::kCorruptMessage: return 2;
    case LogError::kMessageTooLarge: return 10;
    case LogError::kInvalidRecord: return 87;
    case LogError::kInvalidTimestamp: return 32;
    case LogError::kOutOfOrderSequence: return 45;
    case LogError::kDuplicateSequence: return 46;
    case LogError::kInvalidProducerEpoch: return 47;
    case LogError::kUnknownProducerId: return 59;
    case LogError::kInvalidTxnState: return 48;
    case LogError::kUnsupportedForMessageFormat: return 43;
    case LogError::kStorageError: return 56;
    case LogError::kShuttingDown: return 6;  // NOT_LEADER_OR_FOLLOWER: clients retry elsewhere/later
  }
  return -1;
}

std::string_view LogErrorName(LogError e) {
  switch (e) {
    case LogError::kNone: return "NONE";
    case LogError::kOffsetOutOfRange: return "OFFSET_OUT_OF_RANGE";
    case LogError::kCorruptMessage: return "CORRUPT_MESSAGE";
    case LogError::kMessageTooLarge: return "MESSAGE_TOO_LARGE";
    case LogError::kInvalidRecord: return "INVALID_RECORD";
    case LogError::kInvalidTimestamp: return "INVALID_TIMESTAMP";
    case LogError::kOutOfOrderSequence: return "OUT_OF_ORDER_SEQUENCE_NUMBER";
    case LogError::kDuplicateSequence: return "DUPLICATE_SEQUENCE_NUMBER";
    case LogError::kInvalidProducerEpoch: return "INVALID_PRODUCER_EPOCH";
    case LogError::kUnknownProducerId: return "UNKNOWN_PRODUCER_ID";
    case LogError::kInvalidTxnState: return "INVALID_TXN_STATE";
    case LogError::kUnsupportedForMessageFormat: return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
    case LogError::kStorageError: return "KAFKA_STORAGE_ERROR";
    case LogError::kShuttingDown: return "NOT_LEADER_OR_FOLLOWER";
  }
  return "UNKNOWN";
}

}  // namespace ec::log
