#pragma once
// Helpers shared by the log tests: temp directories, batch makers and a reader of a whole log.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "log/partition_log.h"
#include "log/record_batch.h"
#include "log/record_batch_builder.h"

namespace ec::log::testing {

// A fresh directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = (std::filesystem::temp_directory_path() /
             ("ec-log-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd())))
                .string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A batch of `n` records "k<i>" -> "<prefix><i>" with timestamps ts, ts+1, ...
inline std::string MakeBatch(int n, const std::string& prefix = "v", int64_t ts = 1000,
                             Compression c = Compression::kNone) {
  BatchBuilderOptions o;
  o.compression = c;
  RecordBatchBuilder b(o);
  for (int i = 0; i < n; ++i) {
    std::string k = "k" + std::to_string(i), v = prefix + std::to_string(i);
    b.Add(k, v, ts + i);
  }
  return std::move(b.Build()).value();
}

// offset -> value of every record `log` returns from its start to the high watermark, read in
// steps of `max_bytes`; a torn or corrupt batch (zeros read as data among them) fails the test.
inline std::map<int64_t, std::string> ReadValues(const PartitionLog& log, size_t max_bytes = 1 << 20) {
  std::map<int64_t, std::string> out;
  int64_t offset = log.log_start_offset();
  while (offset < log.log_end_offset()) {
    ReadResult rr = log.Read(offset, max_bytes);
    EXPECT_EQ(rr.error, LogError::kNone) << rr.message;
    if (rr.error != LogError::kNone || rr.total_bytes == 0) break;
    std::string bytes;
    EXPECT_TRUE(rr.CopyTo(&bytes).ok());
    Status s = ForEachBatch(bytes, false, [&](const RecordBatchView& b) -> Status {
      EC_ASSIGN_OR_RETURN(RecordSet set, b.Records());
      for (const Record& r : set.records()) out[r.offset] = std::string(r.value.value_or("<null>"));
      offset = b.last_offset() + 1;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << "torn or corrupt batch visible: " << s.ToString();
    if (!s.ok()) break;
  }
  return out;
}

}  // namespace ec::log::testing
