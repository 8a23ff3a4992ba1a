#include "pipeline/ids.h"

#include <openssl/evp.h>

#include <cstdint>
#include <string>

namespace ec::pipeline {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Eventception's UUID namespace (a fixed random v4 UUID), so our ids never collide with
// v5 UUIDs of other namespaces.
constexpr uint8_t kNamespace[16] = {0x6b, 0x3e, 0x0f, 0x52, 0x9a, 0x41, 0x4c, 0x8e,
                                    0xb1, 0x7d, 0x22, 0x90, 0x5e, 0xc4, 0x13, 0xa7};

void AppendHex(const uint8_t* p, size_t n, std::string* out) {
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kHex[p[i] >> 4]);
    out->push_back(kHex[p[i] & 15]);
  }
}

}  // namespace

std::string Sha256Hex128(std::string_view data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  out.reserve(32);
  AppendHex(md, 16, &out);
  return out;
}

std::string UuidV5(std::string_view name) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, kNamespace, sizeof(kNamespace));
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  md[6] = static_cast<uint8_t>((md[6] & 0x0f) | 0x50);  // version 5
  md[8] = static_cast<uint8_t>((md[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  AppendHex(md, 4, &out);
  out.push_back('-');
  AppendHex(md + 4, 2, &out);
  out.push_back('-');
  AppendHex(md + 6, 2, &out);
  out.push_back('-');
  AppendHex(md + 8, 2, &out);
  out.push_back('-');
  AppendHex(md + 10, 6, &out);
  return out;
}

std::string EventId(std::string_view exchange_id, std::string_view type, size_t index) {
  std::string name;
  name.reserve(exchange_id.size() + type.size() + 8);
  name.append(exchange_id).push_back('\n');
  name.append(type).push_back('\n');
  name.append(std::to_string(index));
  return UuidV5(name);
}

}  // namespace ec::pipeline
