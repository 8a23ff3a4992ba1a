#include "server/http/gzip.h"

#include <zlib.h>

namespace ec::server {

Result<std::string> Gunzip(std::string_view compressed, size_t max_output) {
  z_stream zs{};
  // 15 + 32: zlib detects gzip or zlib headers itself.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Internal("inflateInit2 failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : "truncated stream";
      inflateEnd(&zs);
      return InvalidArgument("request body is not valid gzip (" + msg +
                             "); send it uncompressed or drop the Content-Encoding header");
    }
    size_t produced = sizeof(buf) - zs.avail_out;
    if (out.size() + produced > max_output) {
      inflateEnd(&zs);
      return LimitExceeded("decompressed request body exceeds the limit of " +
                           std::to_string(max_output) + " bytes (limits.max_body_bytes)");
    }
    out.append(buf, produced);
    if (rc == Z_OK && zs.avail_in == 0 && produced == 0) {
      inflateEnd(&zs);
      return InvalidArgument("request body is truncated gzip; send the whole stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

Result<std::string> Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, data.size()) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Internal("deflate failed");
  out.resize(zs.total_out);
  return out;
}

}  // namespace ec::server
