#pragma once
// Standard Webhooks signing: HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>",
// sent as `webhook-signature: v1,<base64>`; secrets are "whsec_" + base64 of the key bytes.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace ec::delivery {

inline constexpr std::string_view kSecretPrefix = "whsec_";

// Standard base64 (with padding), as the Standard Webhooks spec uses.
std::string Base64Encode(std::string_view bytes);
// Decodes standard base64; kInvalidArgument on characters outside the alphabet or bad length.
Result<std::string> Base64Decode(std::string_view text);

// A new secret "whsec_" + base64 of `key_bytes` bytes from OpenSSL's CSPRNG.
// kInternal when the CSPRNG fails (never silently weaker).
Result<std::string> GenerateSecret(size_t key_bytes = 32);
// The key bytes of `secret` ("whsec_" prefix optional); kInvalidArgument naming the problem
// when it is not base64 or shorter than 16 bytes (too weak to sign with).
Result<std::string> DecodeSecret(std::string_view secret);

// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>". `key` is the decoded secret.
std::string Sign(std::string_view key, std::string_view webhook_id, int64_t timestamp_s,
                 std::string_view body);

// Sign() with the HMAC key schedule computed once per subscription instead of per request.
// Not thread-safe: one Signer per signing thread.
class Signer {
 public:
  explicit Signer(std::string_view key);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  // Same output as Sign(key, webhook_id, timestamp_s, body).
  std::string Sign(std::string_view webhook_id, int64_t timestamp_s, std::string_view body);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  std::string key_;  // fallback when the prepared context cannot be set up
};

struct VerifyOptions {
  // Timestamps further than this from `now_s` are refused (replay protection).
  int64_t tolerance_s = 300;
};

// Checks headers of a received webhook as a receiver would: the timestamp is an integer within
// the tolerance and one of the space-separated `v1,` signatures matches (constant-time compare).
// kInvalidArgument saying which check failed.
Status Verify(std::string_view secret, std::string_view webhook_id,
              std::string_view webhook_timestamp, std::string_view webhook_signature,
              std::string_view body, int64_t now_s, const VerifyOptions& options = {});

}  // namespace ec::delivery
