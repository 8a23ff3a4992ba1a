#pragma once
// Internal: big-endian integers and zigzag varints as Kafka encodes them.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ec::log::bytes {

inline uint64_t LoadBe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline int64_t LoadI64(const char* p) { return static_cast<int64_t>(LoadBe(p, 8)); }
inline int32_t LoadI32(const char* p) { return static_cast<int32_t>(LoadBe(p, 4)); }
inline int16_t LoadI16(const char* p) { return static_cast<int16_t>(LoadBe(p, 2)); }

inline void StoreBe(char* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}
inline void PutBe(std::string* out, uint64_t v, int n) {
  char b[8];
  StoreBe(b, v, n);
  out->append(b, n);
}

inline void PutVarint(std::string* out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<char>((z & 0x7F) | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}
inline size_t VarintSize(int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 1;
  while (z >= 0x80) {
    z >>= 7;
    ++n;
  }
  return n;
}

// A bounds-checked reader over a byte range.
class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool ReadVarint(int64_t* v) {
    // One or two bytes (values of -8192 to 8191: a record's lengths, its offset and timestamp
    // deltas in a batch of up to 8192 records or milliseconds) without the loop: most of them.
    if (end_ - p_ >= 2) [[likely]] {
      const auto b0 = static_cast<uint64_t>(static_cast<unsigned char>(p_[0]));
      const auto b1 = static_cast<uint64_t>(static_cast<unsigned char>(p_[1]));
      if (!(b0 & 0x80)) {
        ++p_;
        *v = static_cast<int64_t>(b0 >> 1) ^ -static_cast<int64_t>(b0 & 1);
        return true;
      }
      if (!(b1 & 0x80)) {
        p_ += 2;
        const uint64_t z = (b0 & 0x7F) | b1 << 7;
        *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
        return true;
      }
    }
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      auto b = static_cast<unsigned char>(*p_++);
      z |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) {
        *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
        return true;
      }
    }
    return false;
  }
  bool ReadBytes(size_t n, std::string_view* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  bool ReadI8(int8_t* v) {
    if (p_ >= end_) return false;
    *v = static_cast<int8_t>(*p_++);
    return true;
  }
  // Length-prefixed (varint) nullable bytes; -1 = null.
  bool ReadNullable(std::optional<std::string_view>* out) {
    int64_t len;
    if (!ReadVarint(&len)) return false;
    if (len < 0) {
      if (len != -1) return false;
      *out = std::nullopt;
      return true;
    }
    std::string_view v;
    if (!ReadBytes(static_cast<size_t>(len), &v)) return false;
    *out = v;
    return true;
  }
  // ReadNullable without the view: true when it would be.
  bool SkipNullable() {
    int64_t len;
    if (!ReadVarint(&len)) return false;
    if (len < 0) return len == -1;
    if (static_cast<size_t>(end_ - p_) < static_cast<size_t>(len)) return false;
    p_ += len;
    return true;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const char* pos() const { return p_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace ec::log::bytes
