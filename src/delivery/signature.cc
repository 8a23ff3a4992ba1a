// Signer keeps HMAC's inner and outer SHA-256 states and copies them per request: the low-level
// SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, whose per-call provider
// dispatch and context duplication cost more than the hashing of a small webhook.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "delivery/signature.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>

namespace ec::delivery {

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return InvalidArgument("base64 length " + std::to_string(text.size()) +
                           " is not a multiple of 4; use standard base64 with '=' padding");
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return InvalidArgument("not valid base64: '" + std::string(text.substr(0, 40)) + "'");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad++;
  if (text.size() > 1 && text[text.size() - 2] == '=') pad++;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

Result<std::string> GenerateSecret(size_t key_bytes) {
  std::string key(key_bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return Internal("the OpenSSL CSPRNG failed to produce a webhook secret");
  }
  return std::string(kSecretPrefix) + Base64Encode(key);
}

Result<std::string> DecodeSecret(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  auto key = Base64Decode(secret);
  if (!key.ok()) {
    return InvalidArgument("webhook secret: " + key.status().message() +
                           "; expected 'whsec_' followed by base64 (omit it to generate one)");
  }
  if (key->size() < 16) {
    return InvalidArgument("webhook secret decodes to " + std::to_string(key->size()) +
                           " bytes; use at least 16 random bytes");
  }
  return key;
}

std::string Sign(std::string_view key, std::string_view webhook_id, int64_t timestamp_s,
                 std::string_view body) {
  std::string content;
  content.reserve(webhook_id.size() + body.size() + 24);
  content.append(webhook_id).append(".").append(std::to_string(timestamp_s)).append(".");
  content.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  return "v1," + Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

// HMAC-SHA256 (RFC 2104) as two SHA-256 states prepared from the key: H((K^opad) || H((K^ipad)
// || message)). A key longer than the block is hashed first.
struct Signer::Ctx {
  SHA256_CTX inner;
  SHA256_CTX outer;
};

Signer::Signer(std::string_view key) : key_(key) {
  constexpr size_t kBlock = SHA256_CBLOCK;
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  auto c = std::make_unique<Ctx>();
  if (SHA256_Init(&c->inner) != 1 || SHA256_Update(&c->inner, ipad, kBlock) != 1 ||
      SHA256_Init(&c->outer) != 1 || SHA256_Update(&c->outer, opad, kBlock) != 1) {
    OPENSSL_cleanse(k, sizeof k);
    return;  // Sign falls back to HMAC() with the key
  }
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
  ctx_ = std::move(c);
}

Signer::~Signer() {
  if (ctx_) OPENSSL_cleanse(ctx_.get(), sizeof *ctx_);
}

std::string Signer::Sign(std::string_view webhook_id, int64_t timestamp_s,
                         std::string_view body) {
  if (!ctx_) return delivery::Sign(key_, webhook_id, timestamp_s, body);
  char ts[24];
  auto [end, ec] = std::to_chars(ts, ts + sizeof ts, timestamp_s);
  SHA256_CTX c = ctx_->inner;
  SHA256_Update(&c, webhook_id.data(), webhook_id.size());
  SHA256_Update(&c, ".", 1);
  SHA256_Update(&c, ts, static_cast<size_t>(end - ts));
  SHA256_Update(&c, ".", 1);
  SHA256_Update(&c, body.data(), body.size());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &c);
  c = ctx_->outer;
  SHA256_Update(&c, digest, sizeof digest);
  SHA256_Final(digest, &c);
  OPENSSL_cleanse(&c, sizeof c);
  // "v1," and the base64 of 32 bytes (44 characters), written in place.
  std::string out(3 + 4 * ((SHA256_DIGEST_LENGTH + 2) / 3), '\0');
  out[0] = 'v';
  out[1] = '1';
  out[2] = ',';
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + 3), digest,
                          SHA256_DIGEST_LENGTH);
  out.resize(3 + static_cast<size_t>(n));
  return out;
}

Status Verify(std::string_view secret, std::string_view webhook_id,
              std::string_view webhook_timestamp, std::string_view webhook_signature,
              std::string_view body, int64_t now_s, const VerifyOptions& options) {
  EC_ASSIGN_OR_RETURN(std::string key, DecodeSecret(secret));
  int64_t ts = 0;
  auto [end, ec] = std::from_chars(webhook_timestamp.data(),
                                   webhook_timestamp.data() + webhook_timestamp.size(), ts);
  if (ec != std::errc() || end != webhook_timestamp.data() + webhook_timestamp.size()) {
    return InvalidArgument("webhook-timestamp '" + std::string(webhook_timestamp) +
                           "' is not an integer number of seconds");
  }
  if (ts < now_s - options.tolerance_s || ts > now_s + options.tolerance_s) {
    return InvalidArgument("webhook-timestamp " + std::to_string(ts) + " is more than " +
                           std::to_string(options.tolerance_s) + " s away from now (" +
                           std::to_string(now_s) + ")");
  }
  std::string expected = Sign(key, webhook_id, ts, body);
  std::string_view rest = webhook_signature;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    std::string_view one = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    if (one.size() == expected.size() &&
        CRYPTO_memcmp(one.data(), expected.data(), one.size()) == 0) {
      return Status::Ok();
    }
  }
  return InvalidArgument("no v1 signature in webhook-signature matches the body");
}

}  // namespace ec::delivery
