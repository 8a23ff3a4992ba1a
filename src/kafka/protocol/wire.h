#pragma once
// Kafka wire primitives: a bounds-checked Reader and a Writer that can reference large record
// payloads instead of copying them (gathered on send).

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ec::kafka {

struct Uuid {
  uint8_t bytes[16] = {};
  bool operator==(const Uuid&) const = default;
};

// A byte range of an open file (a log segment), sent with sendfile(2) instead of being copied.
struct FileRange {
  int fd = -1;
  uint64_t offset = 0;
  size_t size = 0;
  bool operator==(const FileRange&) const = default;
};

// A RecordBatch byte range (possibly several batches), or null. `owner` keeps the bytes alive
// when they are not owned by the request frame (e.g. a log read buffer). A Fetch response may
// instead carry the bytes as `files` (data then empty; `owner` keeps the files open): the
// connection sends them straight from the page cache. Decoded records are always in `data`.
struct Records {
  std::string_view data;
  bool is_null = true;
  std::shared_ptr<const void> owner;
  std::vector<FileRange> files;
  size_t file_bytes = 0;

  Records() = default;
  explicit Records(std::string_view d, std::shared_ptr<const void> o = nullptr)
      : data(d), is_null(false), owner(std::move(o)) {}
  Records(std::vector<FileRange> f, std::shared_ptr<const void> o)
      : is_null(false), owner(std::move(o)), files(std::move(f)) {
    for (const FileRange& r : files) file_bytes += r.size;
  }
  static Records Null() { return Records(); }
  // Encoded length (the bytes in memory or in files).
  size_t size() const { return data.size() + file_bytes; }
  bool operator==(const Records& o) const {
    return is_null == o.is_null && data == o.data && files == o.files;
  }
};

// Reads big-endian primitives from a byte range. Errors are sticky: after the first
// truncated or malformed read every read returns a zero value and ok() is false.
class Reader {
 public:
  Reader() = default;
  explicit Reader(std::string_view data) : p_(data.data()), n_(data.size()) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return n_ - pos_; }
  size_t position() const { return pos_; }
  size_t error_offset() const { return error_at_; }
  std::string_view rest() const { return std::string_view(p_ + pos_, n_ - pos_); }
  void Fail() {
    if (ok_) error_at_ = pos_;
    ok_ = false;
    pos_ = n_;
  }

  int8_t ReadInt8() { return static_cast<int8_t>(ReadBE<uint8_t>()); }
  bool ReadBool() { return ReadBE<uint8_t>() != 0; }
  int16_t ReadInt16() { return static_cast<int16_t>(ReadBE<uint16_t>()); }
  uint16_t ReadUint16() { return ReadBE<uint16_t>(); }
  int32_t ReadInt32() { return static_cast<int32_t>(ReadBE<uint32_t>()); }
  int64_t ReadInt64() { return static_cast<int64_t>(ReadBE<uint64_t>()); }
  double ReadFloat64() {
    uint64_t u = ReadBE<uint64_t>();
    double d;
    std::memcpy(&d, &u, 8);
    return d;
  }
  Uuid ReadUuid() {
    Uuid u;
    std::string_view b = ReadRaw(16);
    if (b.size() == 16) std::memcpy(u.bytes, b.data(), 16);
    return u;
  }
  uint32_t ReadUnsignedVarint();
  int32_t ReadVarint();
  int64_t ReadVarlong();

  // Next `len` bytes as a view; fails (empty view) when fewer remain.
  std::string_view ReadRaw(size_t len) {
    if (len > remaining()) {
      Fail();
      return {};
    }
    std::string_view v(p_ + pos_, len);
    pos_ += len;
    return v;
  }
  // A Reader over the next `len` bytes, consumed from this one.
  Reader Sub(size_t len) {
    std::string_view v = ReadRaw(len);
    Reader r(v);
    if (!ok_) r.Fail();
    return r;
  }

  std::string ReadString(bool flexible);
  std::optional<std::string> ReadNullableString(bool flexible);
  std::string ReadBytes(bool flexible) { return ReadString(flexible, true); }
  std::optional<std::string> ReadNullableBytes(bool flexible) {
    return ReadNullableString(flexible, true);
  }
  Records ReadRecords(bool flexible);
  // Element count of an array, -1 for null; fails when it exceeds the bytes left.
  int32_t ReadArrayLength(bool flexible);

 private:
  std::string ReadString(bool flexible, bool bytes);
  std::optional<std::string> ReadNullableString(bool flexible, bool bytes);
  // Length prefix of a string/bytes field: -1 for null, -2 after an error.
  int64_t ReadLength(bool flexible, bool bytes);

  template <typename T>
  T ReadBE() {
    if (sizeof(T) > remaining()) {
      Fail();
      return 0;
    }
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | static_cast<uint8_t>(p_[pos_ + i]));
    pos_ += sizeof(T);
    return v;
  }

  const char* p_ = nullptr;
  size_t n_ = 0;
  size_t pos_ = 0;
  size_t error_at_ = 0;
  bool ok_ = true;
};

// One piece of an encoded message: memory, or (fd >= 0) a file range for sendfile(2).
struct WirePiece {
  std::string_view mem;
  int fd = -1;
  uint64_t file_offset = 0;
  size_t file_size = 0;
  size_t size() const { return fd >= 0 ? file_size : mem.size(); }
};

// Appends big-endian primitives to a buffer. Record payloads of at least kZeroCopyMin bytes
// that carry an owner are referenced, not copied, and file-backed records are referenced as
// file ranges; Pieces() lists the pieces in order.
class Writer {
 public:
  static constexpr size_t kZeroCopyMin = 16 * 1024;

  size_t size() const { return buf_.size() + external_bytes_; }
  std::string& buffer() { return buf_; }

  void WriteInt8(int8_t v) { buf_.push_back(static_cast<char>(v)); }
  void WriteBool(bool v) { buf_.push_back(v ? 1 : 0); }
  void WriteInt16(int16_t v) { WriteBE<uint16_t>(static_cast<uint16_t>(v)); }
  void WriteUint16(uint16_t v) { WriteBE<uint16_t>(v); }
  void WriteInt32(int32_t v) { WriteBE<uint32_t>(static_cast<uint32_t>(v)); }
  void WriteInt64(int64_t v) { WriteBE<uint64_t>(static_cast<uint64_t>(v)); }
  void WriteFloat64(double d) {
    uint64_t u;
    std::memcpy(&u, &d, 8);
    WriteBE<uint64_t>(u);
  }
  void WriteUuid(const Uuid& u) { buf_.append(reinterpret_cast<const char*>(u.bytes), 16); }
  void WriteUnsignedVarint(uint32_t v);
  void WriteVarint(int32_t v);
  void WriteVarlong(int64_t v);
  void WriteRaw(std::string_view v) { buf_.append(v); }

  void WriteString(std::string_view s, bool flexible);
  void WriteNullableString(const std::optional<std::string>& s, bool flexible);
  void WriteBytes(std::string_view s, bool flexible);
  void WriteNullableBytes(const std::optional<std::string>& s, bool flexible);
  void WriteRecords(const Records& r, bool flexible);
  void WriteArrayLength(int32_t n, bool flexible);
  // Appends another writer's bytes (which must hold no external references).
  void Append(const Writer& other) { buf_.append(other.buf_); }
  // Overwrites 4 bytes at `at` with `v` (for length prefixes written before the body).
  void PatchInt32(size_t at, int32_t v);

  // The bytes in order: buffer slices interleaved with referenced payloads. Only for writers
  // without file ranges (has_files() false): tests and fuzzers, which encode decoded messages.
  std::vector<std::string_view> Gather() const;
  // The bytes in order, file ranges included (for the connection's send loop).
  void AppendPieces(std::vector<WirePiece>* out) const;
  bool has_files() const { return has_files_; }
  // Keeps referenced payloads alive as long as this writer.
  bool has_external() const { return !external_.empty(); }

 private:
  template <typename T>
  void WriteBE(T v) {
    char b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(v >> (8 * (sizeof(T) - 1 - i)));
    buf_.append(b, sizeof(T));
  }
  struct External {
    size_t at;  // offset in buf_ where the payload goes
    std::string_view data;
    std::shared_ptr<const void> owner;
    int fd = -1;  // >= 0: file_size bytes of this file from file_offset (data empty)
    uint64_t file_offset = 0;
    size_t file_size = 0;
  };
  std::string buf_;
  std::vector<External> external_;
  size_t external_bytes_ = 0;
  bool has_files_ = false;
};

}  // namespace ec::kafka
