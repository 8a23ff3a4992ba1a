#include "kafka/protocol/wire.h"

namespace ec::kafka {

uint32_t Reader::ReadUnsignedVarint() {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (remaining() == 0) {
      Fail();
      return 0;
    }
    uint8_t b = static_cast<uint8_t>(p_[pos_++]);
    if (shift == 28 && (b & 0xf0)) break;  // more than 32 bits
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  Fail();
  return 0;
}

int32_t Reader::ReadVarint() {
  uint32_t u = ReadUnsignedVarint();
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

int64_t Reader::ReadVarlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (remaining() == 0) break;
    uint8_t b = static_cast<uint8_t>(p_[pos_++]);
    if (shift == 63 && (b & 0xfe)) break;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  Fail();
  return 0;
}

int64_t Reader::ReadLength(bool flexible, bool bytes) {
  int64_t len;
  if (flexible) {
    len = static_cast<int64_t>(ReadUnsignedVarint()) - 1;
  } else {
    len = bytes ? ReadInt32() : ReadInt16();
  }
  if (!ok_) return -2;
  if (len < -1 || (len > 0 && static_cast<uint64_t>(len) > remaining())) {
    Fail();
    return -2;
  }
  return len;
}

std::string Reader::ReadString(bool flexible, bool bytes) {
  int64_t len = ReadLength(flexible, bytes);
  if (len == -1) Fail();  // null where the field is not nullable
  if (len < 0) return {};
  return std::string(ReadRaw(static_cast<size_t>(len)));
}

std::optional<std::string> Reader::ReadNullableString(bool flexible, bool bytes) {
  int64_t len = ReadLength(flexible, bytes);
  if (len < 0) return std::nullopt;
  return std::string(ReadRaw(static_cast<size_t>(len)));
}

std::string Reader::ReadString(bool flexible) { return ReadString(flexible, false); }
std::optional<std::string> Reader::ReadNullableString(bool flexible) {
  return ReadNullableString(flexible, false);
}

Records Reader::ReadRecords(bool flexible) {
  int64_t len = ReadLength(flexible, true);
  if (len < 0) return Records::Null();
  return Records(ReadRaw(static_cast<size_t>(len)));
}

int32_t Reader::ReadArrayLength(bool flexible) {
  int64_t n = flexible ? static_cast<int64_t>(ReadUnsignedVarint()) - 1 : ReadInt32();
  if (!ok_) return 0;
  if (n < -1 || (n > 0 && static_cast<uint64_t>(n) > remaining())) {
    Fail();
    return 0;
  }
  return static_cast<int32_t>(n);
}

void Writer::WriteUnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  buf_.push_back(static_cast<char>(v));
}

void Writer::WriteVarint(int32_t v) {
  WriteUnsignedVarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void Writer::WriteVarlong(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (u >= 0x80) {
    buf_.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  buf_.push_back(static_cast<char>(u));
}

void Writer::WriteString(std::string_view s, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    WriteInt16(static_cast<int16_t>(s.size()));
  }
  buf_.append(s);
}

void Writer::WriteNullableString(const std::optional<std::string>& s, bool flexible) {
  if (s) return WriteString(*s, flexible);
  if (flexible) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt16(-1);
  }
}

void Writer::WriteBytes(std::string_view s, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    WriteInt32(static_cast<int32_t>(s.size()));
  }
  buf_.append(s);
}

void Writer::WriteNullableBytes(const std::optional<std::string>& s, bool flexible) {
  if (s) return WriteBytes(*s, flexible);
  if (flexible) {
    WriteUnsignedVarint(0);
  } else {
    WriteInt32(-1);
  }
}

void Writer::WriteRecords(const Records& r, bool flexible) {
  if (r.is_null) {
    if (flexible) {
      WriteUnsignedVarint(0);
    } else {
      WriteInt32(-1);
    }
    return;
  }
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(r.size() + 1));
  } else {
    WriteInt32(static_cast<int32_t>(r.size()));
  }
  for (const FileRange& f : r.files) {
    if (f.size == 0) continue;
    external_.push_back({buf_.size(), std::string_view(), r.owner, f.fd, f.offset, f.size});
    external_bytes_ += f.size;
    has_files_ = true;
  }
  if (r.data.empty()) return;
  if (r.owner && r.data.size() >= kZeroCopyMin) {
    external_.push_back({buf_.size(), r.data, r.owner});
    external_bytes_ += r.data.size();
  } else {
    buf_.append(r.data);
  }
}

void Writer::WriteArrayLength(int32_t n, bool flexible) {
  if (flexible) {
    WriteUnsignedVarint(static_cast<uint32_t>(n + 1));
  } else {
    WriteInt32(n);
  }
}

void Writer::PatchInt32(size_t at, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) buf_[at + i] = static_cast<char>(u >> (8 * (3 - i)));
}

std::vector<std::string_view> Writer::Gather() const {
  std::vector<std::string_view> out;
  size_t from = 0;
  for (const External& e : external_) {
    if (e.at > from) out.emplace_back(buf_.data() + from, e.at - from);
    out.push_back(e.data);
    from = e.at;
  }
  if (buf_.size() > from) out.emplace_back(buf_.data() + from, buf_.size() - from);
  return out;
}

void Writer::AppendPieces(std::vector<WirePiece>* out) const {
  size_t from = 0;
  for (const External& e : external_) {
    if (e.at > from) out->push_back({std::string_view(buf_.data() + from, e.at - from)});
    out->push_back({e.data, e.fd, e.file_offset, e.file_size});
    from = e.at;
  }
  if (buf_.size() > from) out->push_back({std::string_view(buf_.data() + from, buf_.size() - from)});
}

}  // namespace ec::kafka
