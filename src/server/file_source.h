#pragma once
// File sources: tailing NDJSON files that a gateway appends to (files: in the serve config,
// `eventception ingest --follow`). Rotation-safe: a rename (logrotate's default: the old file
// moves away, a new one appears at the path) is noticed by the inode at the path changing, and
// the old file is read to its end before the new one is opened; a truncation in place
// (copytruncate) is noticed by the size dropping below the position, which restarts at 0. The
// position (inode + offset) is written atomically under the data dir after each append, so a
// restart continues where the last append ended (at-least-once: a crash between the append and
// the position write repeats those lines, with the same stable exchange ids).

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "server/source_config.h"

namespace ec::server {

class LocalIngest;

struct FileTailerOptions {
  std::string path;
  std::string position_file;       // where inode/offset persist; empty = not durable
  size_t max_line_bytes = 1 << 20;  // a longer line is handed over as is (it will be rejected)
  size_t max_batch_lines = 1000;
  int poll_interval_ms = 100;
};

// Follows one file. `ship` gets complete lines (without the newline) and returns OK once they
// are stored; an error keeps the position, and the same lines are offered again later.
class FileTailer {
 public:
  using ShipFn = std::function<Status(std::span<const std::string> lines)>;
  FileTailer(FileTailerOptions options, ShipFn ship);
  ~FileTailer();  // Stop()

  // Loads the saved position and starts the polling thread.
  Status Start();
  void Stop();
  // One polling step (tests and the thread): reads what is new, ships it. Returns lines shipped.
  Result<size_t> Poll();
  uint64_t lines_shipped() const { return shipped_.load(); }

 private:
  struct Position {
    ino_t inode = 0;
    dev_t device = 0;
    uint64_t offset = 0;
  };
  Status LoadPosition();
  Status SavePosition();
  // Reads `fd_` from position_.offset to its end, shipping complete lines (and, when
  // `final`, a last line without a newline). Returns lines shipped.
  Result<size_t> Drain(bool final);
  void CloseFile();
  void Run();

  FileTailerOptions options_;
  ShipFn ship_;
  int fd_ = -1;
  Position position_;
  std::atomic<uint64_t> shipped_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The `files:` section of serve: one tailer per file, shipping into LocalIngest, positions under
// <data_dir>/sources/files/.
class FileSources {
 public:
  FileSources(std::vector<FileSourceConfig> files, std::string data_dir, LocalIngest* ingest);
  ~FileSources();
  Status Start();
  void Stop();

 private:
  std::vector<FileSourceConfig> files_;
  std::string data_dir_;
  LocalIngest* ingest_;
  std::vector<std::unique_ptr<FileTailer>> tailers_;
};

// The position file name for `path` under `dir` (a hash of the absolute path).
std::string PositionFileFor(const std::string& dir, const std::string& path);

}  // namespace ec::server
