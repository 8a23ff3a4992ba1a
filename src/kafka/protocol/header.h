#pragma once
// Request header v0-v2 and response header v0-v1.

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "kafka/protocol/wire.h"

namespace ec::kafka {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;  // v1+; never a compact string, even in v2
};

// Header version a request uses: 2 for flexible request versions, else 1.
int16_t RequestHeaderVersion(bool flexible);
// Response header version: 1 for flexible versions, except ApiVersions which always uses 0.
int16_t ResponseHeaderVersion(int16_t api_key, bool flexible);

// Reads api key, version and correlation id (the fixed v0 prefix); fails on a short frame.
Status DecodeRequestHeaderPrefix(Reader& r, RequestHeader& h);
// Reads the rest of a header of `header_version` (client id, tagged fields).
Status DecodeRequestHeaderRest(Reader& r, int16_t header_version, RequestHeader& h);
void EncodeRequestHeader(Writer& w, const RequestHeader& h, int16_t header_version);

void EncodeResponseHeader(Writer& w, int32_t correlation_id, int16_t header_version);
Status DecodeResponseHeader(Reader& r, int16_t header_version, int32_t& correlation_id);

}  // namespace ec::kafka
