#include "kafka/protocol/header.h"

namespace ec::kafka {

namespace {
constexpr int16_t kApiVersionsKey = 18;

// Skips a tagged-field section; the headers define no tags we use.
void SkipTags(Reader& r) {
  uint32_t n = r.ReadUnsignedVarint();
  for (uint32_t i = 0; i < n && r.ok(); ++i) {
    r.ReadUnsignedVarint();
    r.Sub(r.ReadUnsignedVarint());
  }
}
}  // namespace

int16_t RequestHeaderVersion(bool flexible) { return flexible ? 2 : 1; }

int16_t ResponseHeaderVersion(int16_t api_key, bool flexible) {
  if (api_key == kApiVersionsKey) return 0;
  return flexible ? 1 : 0;
}

Status DecodeRequestHeaderPrefix(Reader& r, RequestHeader& h) {
  h.api_key = r.ReadInt16();
  h.api_version = r.ReadInt16();
  h.correlation_id = r.ReadInt32();
  if (!r.ok()) return Corruption("request header shorter than 8 bytes");
  return Status::Ok();
}

Status DecodeRequestHeaderRest(Reader& r, int16_t header_version, RequestHeader& h) {
  if (header_version >= 1) h.client_id = r.ReadNullableString(false);
  if (header_version >= 2) SkipTags(r);
  if (!r.ok()) return Corruption("malformed request header (client id or tagged fields)");
  return Status::Ok();
}

void EncodeRequestHeader(Writer& w, const RequestHeader& h, int16_t header_version) {
  w.WriteInt16(h.api_key);
  w.WriteInt16(h.api_version);
  w.WriteInt32(h.correlation_id);
  if (header_version >= 1) w.WriteNullableString(h.client_id, false);
  if (header_version >= 2) w.WriteUnsignedVarint(0);
}

void EncodeResponseHeader(Writer& w, int32_t correlation_id, int16_t header_version) {
  w.WriteInt32(correlation_id);
  if (header_version >= 1) w.WriteUnsignedVarint(0);
}

Status DecodeResponseHeader(Reader& r, int16_t header_version, int32_t& correlation_id) {
  correlation_id = r.ReadInt32();
  if (header_version >= 1) SkipTags(r);
  if (!r.ok()) return Corruption("malformed response header");
  return Status::Ok();
}

}  // namespace ec::kafka
