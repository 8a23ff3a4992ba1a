#pragma once
// Env: every OS call the log makes, behind one interface (LevelDB style), so tests can swap in
// FaultInjectionEnv (fault_injection_env.h) and prove crash safety.
//
// Threading: an Env is shared by every thread of a LogManager; all methods are thread-safe.
// A File allows concurrent ReadAt from any thread while ONE writer thread appends/syncs/truncates.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ec::log {

// An open file. Positional reads never move a cursor; Append always writes at the end.
class File {
 public:
  virtual ~File() = default;
  // Writes `data` at the end. On error the file may hold a prefix of `data`.
  virtual Status Append(std::string_view data) = 0;
  // Appends `n` bytes of `src` from `offset` (which must hold them). The default reads and
  // appends them in steps; a file system that can copies them within the kernel (one copy, not
  // a read into memory and a write out of it). Compaction copies the unchanged part of a
  // segment with it.
  virtual Status AppendFrom(const File& src, uint64_t offset, uint64_t n);
  // fdatasync: on success everything appended so far survives a crash or power loss.
  virtual Status Sync() = 0;
  // Cuts the file to `size` bytes (used by recovery and by index rewrites).
  virtual Status Truncate(uint64_t size) = 0;
  // Reads up to `n` bytes at `offset` into `scratch`; returns the count read (short only at EOF).
  virtual Result<size_t> ReadAt(uint64_t offset, size_t n, char* scratch) const = 0;
  // Current size in bytes (includes unsynced appends).
  virtual uint64_t Size() const = 0;
  // The OS file descriptor for zero-copy sends (sendfile/splice); -1 when the file has none.
  // Valid for the lifetime of this object, even after the path is deleted.
  virtual int fd() const = 0;
  virtual const std::string& path() const = 0;
  // Advice: the bytes in [offset, offset + length) will not be read soon. The OS may start
  // writing them back and drops them from its page cache once clean, so their pages are
  // reused by the next appends. Never changes the content; a no-op by default.
  virtual void ReleaseCache(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
  }
  // Writes the dirty pages in [offset, offset + length) to the device and waits for them
  // (sync_file_range). Makes nothing durable by itself (no device cache flush, no metadata): it
  // only leaves less for the next Sync() to write, so a caller can spread a large sync over
  // small steps that other files' fdatasyncs are not queued behind. A no-op by default.
  virtual void WriteBack(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
  }

  // Preallocation (docs/log-format.md, "Preallocated segments"). Writes zeros from the end of
  // the file's zero-filled region (never below Size()) up to `end`, then fdatasyncs, so the
  // blocks are allocated AND initialised: an fdatasync after appends into them flushes data
  // only, with no journal commit for the file's growth (fallocate alone leaves unwritten extents
  // whose first write still needs one). Size() does not change: it stays where the next Append
  // writes. One thread may call this while another appends; a no-op after TrimPreallocation.
  // Returns the end of the zero-filled region. The default does nothing.
  virtual Result<uint64_t> Preallocate(uint64_t end) {
    (void)end;
    return Size();
  }
  // The file's length on disk: Size() plus the zero-filled region after it.
  virtual uint64_t AllocatedSize() const { return Size(); }
  // Reuses the file's bytes as preallocated space: Size() becomes 0 and appends overwrite the
  // old content from the start without allocating (AllocatedSize() stays the file's length),
  // so their fdatasyncs write data only, like appends into zeros, without writing zeros first.
  // The old bytes stay past Size() until overwritten (and may come back after a crash): only
  // for files whose reader tells stale content from new (the commit journal's entries carry
  // their file's sequence number in their CRC). The default truncates to 0.
  virtual Status Recycle() { return Truncate(0); }
  // Cuts the zero-filled region off (the file ends at Size() again) and stops any further
  // preallocation: a sealed segment ends at its last batch.
  virtual Status TrimPreallocation() { return Status::Ok(); }
  // From now on, writes bypass the page cache (O_DIRECT): for a file that is only appended to
  // and read back at recovery (the commit journal). Append then copies into a block-aligned
  // buffer in memory, and Sync() writes the buffered blocks to the device (the last partial
  // block padded with zeros, rewritten whole by the next one) before its fdatasync, which then
  // only flushes the device cache. Same contract as before: only Sync() makes anything durable;
  // unsynced appends may be lost, by a SIGKILL too (they were in the page cache before). Saves
  // the kernel's page-cache copy, dirtying and writeback per page. Preallocation zeros go
  // the same way. False (and nothing changes) when the file or the filesystem cannot do it.
  virtual bool EnableDirectWrites() { return false; }
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX Env (never deleted).
  static Env* Default();

  // Opens `path` for reading and appending, creating it when `create` is true (NotFound otherwise).
  virtual Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Creates `dir` and its missing parents; ok when it exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Removes `dir` and everything under it; ok when it does not exist.
  virtual Status RemoveDirAll(const std::string& dir) = 0;
  // Atomic rename (replaces `to`).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // fsync of a directory: makes creations, renames and deletions in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Wall clock in milliseconds since the epoch (timestamps, retention, segment age).
  virtual int64_t NowMs() = 0;

  // Writes `data` to `path` so that a crash leaves either the old or the new content:
  // write to path.tmp, fdatasync, rename, sync the directory.
  Status WriteFileAtomically(const std::string& path, std::string_view data);
  // Reads a whole (small) file.
  Result<std::string> ReadFileToString(const std::string& path);
};

}  // namespace ec::log
