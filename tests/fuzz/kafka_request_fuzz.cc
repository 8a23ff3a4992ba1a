// libFuzzer target for the Kafka request decoder: a request frame body (header + message) as a
// broker receives it after the size prefix. Every decodable request must re-encode to bytes
// that decode to the same value (decoder/encoder agreement), and nothing may crash or leak.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kafka/messages.h"
#include "kafka/messages_sample.h"
#include "kafka/protocol/header.h"

namespace {

template <typename M>
void DecodeAs(ec::kafka::Reader body, int16_t version) {
  if (version < M::kMinVersion || version > M::kMaxVersion) return;
  M m;
  if (!m.Decode(body, version).ok()) return;
  ec::kafka::Writer w;
  m.Encode(w, version);
  std::string bytes;
  for (std::string_view p : w.Gather()) bytes.append(p);
  ec::kafka::Reader r2(bytes);
  M again;
  if (!again.Decode(r2, version).ok() || !(again == m) || r2.remaining() != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ec::kafka::Reader r(std::string_view(reinterpret_cast<const char*>(data), size));
  ec::kafka::RequestHeader h;
  if (!ec::kafka::DecodeRequestHeaderPrefix(r, h).ok()) return 0;
  bool handled = false;
  ec::kafka::testing::ForEachMessageType([&](auto tag) {
    using M = decltype(tag);
    if constexpr (M::kIsRequest) {
      if (handled || M::kApiKey != h.api_key) return;
      handled = true;
      ec::kafka::Reader rest = r;
      if (!ec::kafka::DecodeRequestHeaderRest(rest, ec::kafka::RequestHeaderVersion(M::IsFlexible(h.api_version)), h).ok()) return;
      DecodeAs<M>(rest, h.api_version);
    }
  });
  return 0;
}
