#include "base/error_code.h"

#include <array>

namespace ec {
namespace {

// Kafka codes: UNKNOWN_SERVER_ERROR=-1, NONE=0, CORRUPT_MESSAGE=2, UNKNOWN_TOPIC_OR_PARTITION=3,
// REQUEST_TIMED_OUT=7, INVALID_REQUEST=42, TOPIC_ALREADY_EXISTS=36, UNSUPPORTED_VERSION=35,
// POLICY_VIOLATION=44, THROTTLING_QUOTA_EXCEEDED=89, KAFKA_STORAGE_ERROR=56, MESSAGE_TOO_LARGE=10.
constexpr std::array<ErrorCodeInfo, 13> kTable = {{
    {ErrorCode::kOk, "ok", 200, 0},
    {ErrorCode::kInvalidArgument, "invalid_argument", 400, 42},
    {ErrorCode::kNotFound, "not_found", 404, 3},
    {ErrorCode::kAlreadyExists, "already_exists", 409, 36},
    {ErrorCode::kParseError, "parse_error", 400, 42},
    {ErrorCode::kEvalError, "eval_error", 422, 44},
    {ErrorCode::kLimitExceeded, "limit_exceeded", 413, 10},
    {ErrorCode::kIoError, "io_error", 500, 56},
    {ErrorCode::kCorruption, "corruption", 500, 2},
    {ErrorCode::kUnavailable, "unavailable", 429, 89},
    {ErrorCode::kTimeout, "timeout", 504, 7},
    {ErrorCode::kUnsupported, "unsupported", 501, 35},
    {ErrorCode::kInternal, "internal", 500, -1},
}};

}  // namespace

const ErrorCodeInfo& InfoOf(ErrorCode code) {
  auto i = static_cast<size_t>(code);
  return i < kTable.size() ? kTable[i] : kTable.back();
}

}  // namespace ec
