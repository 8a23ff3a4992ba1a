// libFuzzer target for the log's RecordBatch v2 decoding (src/log): framing, CRC, record varints,
// headers and the four decompressors. The first byte picks the path; CRC checking is skipped on
// one path so the fuzzer reaches the record decoder. Corpus: tests/fuzz/corpus/log_batch/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "log/compression.h"
#include "log/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 4;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  constexpr size_t kLimit = 1 << 20;
  switch (mode) {
    case 0: {  // produce-request path: every batch validated, records decoded
      (void)ec::log::ForEachBatch(in, true, [](const ec::log::RecordBatchView& b) {
        auto set = b.Records(kLimit);
        return set.ok() ? ec::Status::Ok() : set.status();
      });
      break;
    }
    case 1: {  // trusted path (our own segments): no CRC, straight to the records
      auto v = ec::log::RecordBatchView::ParseTrusted(in);
      if (v.ok()) {
        (void)v->last_sequence();
        auto set = v->Records(kLimit);
        if (set.ok()) {
          for (const auto& r : set->records()) {
            if (r.key) (void)ec::log::ParseControlKey(*r.key);
          }
        }
      }
      break;
    }
    case 2: {  // each decompressor on raw input
      if (in.empty()) break;
      auto c = static_cast<ec::log::Compression>(1 + static_cast<uint8_t>(in[0]) % 4);
      std::string out;
      (void)ec::log::Decompress(c, in.substr(1), kLimit, &out);
      break;
    }
    default: {  // header peeking used for framing
      (void)ec::log::RecordBatchView::PeekSize(in);
      (void)ec::log::RecordBatchView::Parse(in);
      break;
    }
  }
  return 0;
}
