#include "delivery/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <charconv>

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

struct Signer::Ctx {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~Ctx() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

Signer::Signer(std::string_view key) : key_(key) {
  auto c = std::make_unique<Ctx>();
  c->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (c->mac != nullptr) c->ctx = EVP_MAC_CTX_new(c->mac);
  if (c->ctx == nullptr) return;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(c->ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return;
  }
  ctx_ = std::move(c);
}

Signer::~Signer() = default;

std::string Signer::Sign(std::string_view webhook_id, int64_t timestamp_s,
                         std::string_view body) {
  // Re-initialising with no key reuses the prepared inner/outer pads.
  if (!ctx_ || EVP_MAC_init(ctx_->ctx, nullptr, 0, nullptr) != 1) {
    return delivery::Sign(key_, webhook_id, timestamp_s, body);
  }
  char ts[24];
  auto [end, ec] = std::to_chars(ts, ts + sizeof ts, timestamp_s);
  auto feed = [&](const void* p, size_t n) {
    EVP_MAC_update(ctx_->ctx, static_cast<const unsigned char*>(p), n);
  };
  feed(webhook_id.data(), webhook_id.size());
  feed(".", 1);
  feed(ts, static_cast<size_t>(end - ts));
  feed(".", 1);
  feed(body.data(), body.size());
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  if (EVP_MAC_final(ctx_->ctx, mac, &mac_len, sizeof mac) != 1) {
    return delivery::Sign(key_, webhook_id, timestamp_s, body);
  }
  std::string out = "v1,";
  out += Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
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
