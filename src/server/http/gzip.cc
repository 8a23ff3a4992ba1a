#include "server/http/gzip.h"

#include <zlib.h>

#include "pipeline/gateways/aws_apigw.h"

namespace ec::server {

Result<std::string> Gunzip(std::string_view compressed, size_t max_output) {
  Result<std::string> out = pipeline::gateways::Gunzip(compressed, max_output);
  if (out.ok()) return out;
  // The same failure, worded for a client that sent a request body.
  if (out.status().code() == ErrorCode::kLimitExceeded) {
    return LimitExceeded("decompressed request body exceeds the limit of " + std::to_string(max_output) +
                         " bytes (limits.max_body_bytes)");
  }
  if (out.status().message().find("truncated") != std::string::npos) {
    return InvalidArgument("request body is truncated gzip; send the whole stream");
  }
  return InvalidArgument("request body is not valid gzip (" +
                         out.status().message() + "); send it uncompressed or drop the Content-Encoding header");
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
