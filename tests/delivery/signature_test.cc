// Standard Webhooks signing, checked against signatures computed independently by python3's
// hmac module (and the timestamp/tamper rules of the verification side).
#include "delivery/signature.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace ec::delivery {
namespace {

// Runs python3 to compute the Standard Webhooks signature independently of our code.
std::string PythonSign(const std::string& secret, const std::string& id, int64_t ts,
                       const std::string& body_hex) {
  std::string cmd =
      "python3 -c \"import base64,hmac,hashlib,sys;"
      "k=base64.b64decode(sys.argv[1].split('_',1)[1]);"
      "m=(sys.argv[2]+'.'+sys.argv[3]+'.').encode()+bytes.fromhex(sys.argv[4]);"
      "print('v1,'+base64.b64encode(hmac.new(k,m,hashlib.sha256).digest()).decode())\" " +
      secret + " " + id + " " + std::to_string(ts) + " '" + body_hex + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  char buf[256] = {0};
  std::string out;
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string Hex(const std::string& s) {
  static const char* k = "0123456789abcdef";
  std::string o;
  for (unsigned char c : s) {
    o += k[c >> 4];
    o += k[c & 15];
  }
  return o;
}

TEST(SignatureTest, MatchesPythonHmacOnSeveralBodies) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  auto key = DecodeSecret(secret);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const std::string bodies[] = {"", "{\"test\": 2432232314}", "{\"orderId\":\"o-1001\",\"total\":25}",
                                std::string("bin\0ary\xff\xfe", 10), std::string(5000, 'x')};
  int64_t ts = 1614265330;
  for (const std::string& body : bodies) {
    std::string expected = PythonSign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, Hex(body));
    ASSERT_TRUE(expected.starts_with("v1,")) << "python3 failed: " << expected;
    EXPECT_EQ(Sign(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body), expected);
    ts += 7;
  }
}

TEST(SignatureTest, GeneratedSecretsAreRandomAndDecodable) {
  auto a = GenerateSecret();
  auto b = GenerateSecret();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->starts_with("whsec_"));
  EXPECT_NE(*a, *b);
  auto key = DecodeSecret(*a);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 32u);
  // And python agrees on what signing with a generated secret gives.
  EXPECT_EQ(Sign(*key, "evt-1", 1700000000, "hello"),
            PythonSign(*a, "evt-1", 1700000000, Hex("hello")));
}

TEST(SignatureTest, RejectsBadSecrets) {
  EXPECT_EQ(DecodeSecret("whsec_not base64!").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(DecodeSecret("whsec_c2hvcnQ=").status().code(), ErrorCode::kInvalidArgument);  // 5 bytes
  EXPECT_TRUE(DecodeSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").ok());  // prefix optional
}

TEST(SignatureTest, VerifyAcceptsValidAndRejectsTampering) {
  const std::string secret = *GenerateSecret();
  auto key = *DecodeSecret(secret);
  int64_t now = 1800000000;
  std::string sig = Sign(key, "id-1", now, "body");
  EXPECT_TRUE(Verify(secret, "id-1", std::to_string(now), sig, "body", now).ok());
  // Several signatures (key rotation): any one matching is enough.
  EXPECT_TRUE(Verify(secret, "id-1", std::to_string(now), "v1,AAAA " + sig, "body", now).ok());
  EXPECT_FALSE(Verify(secret, "id-1", std::to_string(now), sig, "body!", now).ok());
  EXPECT_FALSE(Verify(secret, "id-2", std::to_string(now), sig, "body", now).ok());
  EXPECT_FALSE(Verify(secret, "id-1", std::to_string(now + 1), sig, "body", now).ok());
  // Outside the 5 minute tolerance, even with a correct signature.
  std::string old_sig = Sign(key, "id-1", now - 301, "body");
  EXPECT_FALSE(Verify(secret, "id-1", std::to_string(now - 301), old_sig, "body", now).ok());
  EXPECT_FALSE(Verify(secret, "id-1", "12x", sig, "body", now).ok());
  EXPECT_FALSE(Verify(*GenerateSecret(), "id-1", std::to_string(now), sig, "body", now).ok());
}

TEST(SignatureTest, PreparedSignerMatchesOneShotSign) {
  std::string key = *DecodeSecret(*GenerateSecret());
  Signer signer(key);
  for (int i = 0; i < 50; ++i) {
    std::string id = "msg_" + std::to_string(i);
    std::string body(static_cast<size_t>(i * 37), static_cast<char>('a' + i % 26));
    int64_t ts = 1700000000 + i;
    EXPECT_EQ(signer.Sign(id, ts, body), Sign(key, id, ts, body)) << i;
  }
  Signer other(*DecodeSecret(*GenerateSecret()));
  EXPECT_NE(other.Sign("x", 1, "b"), signer.Sign("x", 1, "b"));
}

// The prepared signer computes HMAC from SHA-256 states of its own: keys around and beyond the
// 64-byte block (hashed first), an empty body and one spanning several blocks, against
// OpenSSL's HMAC().
TEST(SignatureTest, PreparedSignerMatchesHmacForEveryKeyLength) {
  for (size_t len : {1, 16, 32, 55, 63, 64, 65, 100, 200}) {
    std::string key;
    for (size_t i = 0; i < len; ++i) key += static_cast<char>((i * 131 + len) & 0xff);
    Signer signer(key);
    for (std::string body : {std::string(), std::string("{}"), std::string(1000, '\xfe')}) {
      EXPECT_EQ(signer.Sign("msg_1", 1700000000, body), Sign(key, "msg_1", 1700000000, body))
          << "key length " << len << ", body length " << body.size();
    }
  }
}

TEST(SignatureTest, Base64RoundTrip) {
  for (std::string s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                        std::string("\0\1\2\3", 4)}) {
    auto back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_FALSE(Base64Decode("YWI").ok());
}

}  // namespace
}  // namespace ec::delivery
