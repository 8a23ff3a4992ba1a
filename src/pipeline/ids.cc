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

// The digests are fetched once: EVP_sha256()/EVP_sha1() make OpenSSL 3 look the algorithm up
// (under a lock) on every EVP_Digest call, which cost as much as hashing a canonical exchange.
const EVP_MD* Sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
const EVP_MD* Sha1() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md;
}

// One digest context per thread, reused (EVP_DigestInit_ex resets it).
EVP_MD_CTX* ThreadContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

}  // namespace

std::string Sha256Hex128(std::string_view data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = ThreadContext();
  EVP_DigestInit_ex(ctx, Sha256(), nullptr);
  EVP_DigestUpdate(ctx, data.data(), data.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  std::string out;
  out.reserve(32);
  AppendHex(md, 16, &out);
  return out;
}

std::string UuidV5(std::string_view name) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = ThreadContext();
  EVP_DigestInit_ex(ctx, Sha1(), nullptr);
  EVP_DigestUpdate(ctx, kNamespace, sizeof(kNamespace));
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestFinal_ex(ctx, md, &len);
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
