#include "log/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace ec::log {
namespace {

// Java's xerial snappy-java stream framing: 8-byte magic, version, min compatible version, then
// blocks of [u32 BE compressed length][raw snappy]. librdkafka reads and may write raw snappy.
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeader = 16;
constexpr size_t kXerialBlock = 32 * 1024;

uint32_t LoadBe32(const char* p) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
void PutBe32(std::string* out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}

Status SnappyRaw(std::string_view in, size_t max_output, std::string* out) {
  size_t len = 0;
  if (snappy_uncompressed_length(in.data(), in.size(), &len) != SNAPPY_OK)
    return Corruption("snappy: bad length header");
  if (len > max_output || out->size() + len > max_output)
    return LimitExceeded("snappy: decompressed size " + std::to_string(len) + " over the limit");
  size_t at = out->size();
  out->resize(at + len);
  if (snappy_uncompress(in.data(), in.size(), out->data() + at, &len) != SNAPPY_OK) {
    out->resize(at);
    return Corruption("snappy: malformed data");
  }
  out->resize(at + len);
  return Status::Ok();
}

Status Gzip(std::string_view in, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Internal("gzip: deflateInit2 failed");
  size_t at = out->size();
  out->resize(at + deflateBound(&z, in.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data() + at);
  z.avail_out = static_cast<uInt>(out->size() - at);
  int rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    out->resize(at);
    return Internal("gzip: deflate did not finish");
  }
  out->resize(at + produced);
  return Status::Ok();
}

Status Gunzip(std::string_view in, size_t max_output, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Internal("gzip: inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  size_t start = out->size();
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      out->resize(start);
      return Corruption("gzip: malformed data");
    }
    size_t got = sizeof buf - z.avail_out;
    if (out->size() + got > max_output) {
      inflateEnd(&z);
      out->resize(start);
      return LimitExceeded("gzip: decompressed size over the limit");
    }
    out->append(buf, got);
    if (rc == Z_OK && got == 0 && z.avail_in == 0) {
      inflateEnd(&z);
      out->resize(start);
      return Corruption("gzip: truncated stream");
    }
  }
  inflateEnd(&z);
  return Status::Ok();
}

Status Lz4Compress(std::string_view in, std::string* out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = in.size();
  size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
  size_t at = out->size();
  out->resize(at + bound);
  size_t n = LZ4F_compressFrame(out->data() + at, bound, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out->resize(at);
    return Internal(std::string("lz4: ") + LZ4F_getErrorName(n));
  }
  out->resize(at + n);
  return Status::Ok();
}

Status Lz4Decompress(std::string_view in, size_t max_output, std::string* out) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return Internal("lz4: cannot create context");
  size_t start = out->size();
  const char* src = in.data();
  size_t left = in.size();
  char buf[64 * 1024];
  size_t hint = 1;
  while (left > 0 && hint != 0) {
    size_t dst_size = sizeof buf;
    size_t src_size = left;
    hint = LZ4F_decompress(dctx, buf, &dst_size, src, &src_size, nullptr);
    if (LZ4F_isError(hint)) {
      LZ4F_freeDecompressionContext(dctx);
      out->resize(start);
      return Corruption(std::string("lz4: ") + LZ4F_getErrorName(hint));
    }
    if (out->size() + dst_size > max_output) {
      LZ4F_freeDecompressionContext(dctx);
      out->resize(start);
      return LimitExceeded("lz4: decompressed size over the limit");
    }
    out->append(buf, dst_size);
    src += src_size;
    left -= src_size;
    if (src_size == 0 && dst_size == 0) break;
  }
  // Drain output still buffered in the context.
  while (hint != 0) {
    size_t dst_size = sizeof buf;
    size_t src_size = 0;
    hint = LZ4F_decompress(dctx, buf, &dst_size, src, &src_size, nullptr);
    if (LZ4F_isError(hint) || dst_size == 0) break;
    if (out->size() + dst_size > max_output) {
      LZ4F_freeDecompressionContext(dctx);
      out->resize(start);
      return LimitExceeded("lz4: decompressed size over the limit");
    }
    out->append(buf, dst_size);
  }
  LZ4F_freeDecompressionContext(dctx);
  if (hint != 0) {
    out->resize(start);
    return Corruption("lz4: truncated frame");
  }
  return Status::Ok();
}

Status ZstdDecompress(std::string_view in, size_t max_output, std::string* out) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (!dctx) return Internal("zstd: cannot create context");
  size_t start = out->size();
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  char buf[64 * 1024];
  size_t rc = 1;
  while (ib.pos < ib.size || rc != 0) {
    ZSTD_outBuffer ob{buf, sizeof buf, 0};
    rc = ZSTD_decompressStream(dctx, &ob, &ib);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDCtx(dctx);
      out->resize(start);
      return Corruption(std::string("zstd: ") + ZSTD_getErrorName(rc));
    }
    if (out->size() + ob.pos > max_output) {
      ZSTD_freeDCtx(dctx);
      out->resize(start);
      return LimitExceeded("zstd: decompressed size over the limit");
    }
    out->append(buf, ob.pos);
    if (ib.pos == ib.size && ob.pos == 0 && rc != 0) {
      ZSTD_freeDCtx(dctx);
      out->resize(start);
      return Corruption("zstd: truncated frame");
    }
  }
  ZSTD_freeDCtx(dctx);
  return Status::Ok();
}

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kSnappy: return "snappy";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "none") return Compression::kNone;
  if (name == "gzip") return Compression::kGzip;
  if (name == "snappy") return Compression::kSnappy;
  if (name == "lz4") return Compression::kLz4;
  if (name == "zstd") return Compression::kZstd;
  return InvalidArgument("unknown compression \"" + std::string(name) +
                         "\": use none, gzip, snappy, lz4 or zstd");
}

Status Compress(Compression c, std::string_view in, std::string* out) {
  switch (c) {
    case Compression::kNone:
      out->append(in);
      return Status::Ok();
    case Compression::kGzip:
      return Gzip(in, out);
    case Compression::kSnappy: {
      out->append(kXerialMagic, sizeof kXerialMagic);
      PutBe32(out, 1);
      PutBe32(out, 1);
      for (size_t pos = 0; pos < in.size(); pos += kXerialBlock) {
        size_t n = std::min(kXerialBlock, in.size() - pos);
        size_t max = snappy_max_compressed_length(n);
        std::string block(max, '\0');
        if (snappy_compress(in.data() + pos, n, block.data(), &max) != SNAPPY_OK)
          return Internal("snappy: compress failed");
        PutBe32(out, static_cast<uint32_t>(max));
        out->append(block.data(), max);
      }
      return Status::Ok();
    }
    case Compression::kLz4:
      return Lz4Compress(in, out);
    case Compression::kZstd: {
      size_t at = out->size();
      size_t bound = ZSTD_compressBound(in.size());
      out->resize(at + bound);
      size_t n = ZSTD_compress(out->data() + at, bound, in.data(), in.size(), 3);
      if (ZSTD_isError(n)) {
        out->resize(at);
        return Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      }
      out->resize(at + n);
      return Status::Ok();
    }
  }
  return Unsupported("unknown compression codec " + std::to_string(int(c)));
}

Status Decompress(Compression c, std::string_view in, size_t max_output, std::string* out) {
  switch (c) {
    case Compression::kNone:
      if (in.size() > max_output) return LimitExceeded("records over the limit");
      out->append(in);
      return Status::Ok();
    case Compression::kGzip:
      return Gunzip(in, max_output, out);
    case Compression::kSnappy: {
      if (in.size() < kXerialHeader || std::memcmp(in.data(), kXerialMagic, 8) != 0)
        return SnappyRaw(in, max_output, out);
      size_t pos = kXerialHeader;
      size_t start = out->size();
      while (pos < in.size()) {
        if (in.size() - pos < 4) {
          out->resize(start);
          return Corruption("snappy: truncated xerial block header");
        }
        uint32_t n = LoadBe32(in.data() + pos);
        pos += 4;
        if (n > in.size() - pos) {
          out->resize(start);
          return Corruption("snappy: xerial block length past the end");
        }
        Status s = SnappyRaw(in.substr(pos, n), max_output, out);
        if (!s.ok()) {
          out->resize(start);
          return s;
        }
        pos += n;
      }
      return Status::Ok();
    }
    case Compression::kLz4:
      return Lz4Decompress(in, max_output, out);
    case Compression::kZstd:
      return ZstdDecompress(in, max_output, out);
  }
  return Unsupported("unknown compression codec " + std::to_string(int(c)));
}

}  // namespace ec::log
