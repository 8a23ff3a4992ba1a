#pragma once
// Helpers shared by the log tests: temp directories and batch makers.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

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

}  // namespace ec::log::testing
