#pragma once
// The one table of stable error codes, mapped in one place to HTTP statuses and Kafka codes.

#include <cstdint>
#include <string_view>

namespace ec {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kInvalidArgument,  // bad user input: malformed record, wrong type, bad option
  kNotFound,
  kAlreadyExists,
  kParseError,       // an expression, spec or document failed to parse
  kEvalError,        // an expression failed while evaluating
  kLimitExceeded,    // a configured limit (size, depth, cost) was hit
  kIoError,
  kCorruption,       // on-disk or on-wire data failed a check (CRC, framing)
  kUnavailable,      // try again later (back-pressure, shutting down)
  kTimeout,
  kUnsupported,
  kInternal,         // a bug: never caused by input
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;   // stable, appears in APIs and dead letters
  int http_status;
  int16_t kafka_error;     // Kafka protocol error code
};

// Name, HTTP status and Kafka error code of `code`.
const ErrorCodeInfo& InfoOf(ErrorCode code);

}  // namespace ec
