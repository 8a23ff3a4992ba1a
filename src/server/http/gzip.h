#pragma once
// Decompressing gzip (and zlib) request bodies with a hard output limit.

#include <string>
#include <string_view>

#include "base/status.h"

namespace ec::server {

// Inflates a gzip or zlib stream. Errors: kLimitExceeded when the output would exceed
// `max_output` bytes (a zip bomb stops there), kInvalidArgument when the data is not gzip.
Result<std::string> Gunzip(std::string_view compressed, size_t max_output);

// Compresses `data` as gzip (used by tests and the traffic generator's peers).
Result<std::string> Gzip(std::string_view data);

}  // namespace ec::server
