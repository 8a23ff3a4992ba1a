#include "log/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <thread>

namespace ec::log {
namespace {

// Direct writes (File::EnableDirectWrites): file offsets, lengths and buffer addresses are
// multiples of this (O_DIRECT's rule; ext4's block size, and a multiple of any sector size).
constexpr uint64_t kDirectBlock = 4096;
// Unwritten bytes buffered past this are written out by the appending thread itself: memory
// must not pile up when nobody syncs. (The journal syncs its lazy entries well before this.)
constexpr uint64_t kDirectWriteBehind = 16 << 20;
// Zeros per direct preallocation write: each one holds the direct-write lock, so a sync's
// write waits for one step at most (a waiting sync goes before the next step). 1 MiB: one
// device request per step (max_sectors 1280 KiB on the project's VM); 256 KiB took four
// requests and four waits per MiB (ec-log-ckpt 0.054-0.063 -> 0.040-0.042 CPU-s per
// bench_server run, journal fdatasync p99 unchanged at load 5-6), and the buffered zero fill
// before direct writes held the disk for a 1 MiB fdatasync per step too.
constexpr uint64_t kDirectZeroStep = 1 << 20;

uint64_t RoundUpToBlock(uint64_t n) { return (n + kDirectBlock - 1) & ~(kDirectBlock - 1); }

// Buffers of 2 MiB and more (a journal file's two buffers) are asked for in transparent huge
// pages: a direct write pins its buffer's pages for the device (get_user_pages) and builds the
// request from them, 256 per MiB in 4 KiB pages (gup_fast_fallback alone was 4% of the journal
// sync thread's and 7% of the checkpoint thread's CPU in bench_server's perf profile). Only
// advice: without huge pages the buffer works as before. A mapping of their own, not heap
// memory: MADV_HUGEPAGE on a malloc'd block stays on that part of the heap after it is freed,
// and the small blocks placed there later took whole huge pages (peak RSS +20 MiB).
constexpr size_t kHugePage = 2 << 20;
// Freed huge-page buffers are kept for the next direct-write file: the journal starts a file at
// each checkpoint, and fresh memory costs a fault in the host per page on this project's VMs
// (docs/log-format.md, "Page-cache window"; a freed 2 MiB block is what the VM hands back
// first), ~5 ms per 2 MiB buffer in perf (clear_page_erms under the huge-page fault). Bounded:
// a checkpoint's new file takes them back before the old file's are freed.
constexpr size_t kMaxSpareBuffers = 2;
constexpr size_t kMaxSpareBufferBytes = 8 << 20;

struct SpareBuffers {
  std::mutex mu;
  std::vector<std::pair<char*, size_t>> buffers;  // mapped, huge-page advised
};
SpareBuffers& Spares() {
  static SpareBuffers* spares = new SpareBuffers();  // never destroyed: buffers die at exit
  return *spares;
}

// Frees a buffer of AllocateAligned: heap memory, or a mapping of `mapped` bytes of its own.
struct BufferDeleter {
  size_t mapped = 0;
  void operator()(char* p) const {
    if (mapped == 0) {
      std::free(p);
      return;
    }
    if (mapped <= kMaxSpareBufferBytes) {
      SpareBuffers& s = Spares();
      std::lock_guard lock(s.mu);
      if (s.buffers.size() < kMaxSpareBuffers) {
        s.buffers.emplace_back(p, mapped);
        return;
      }
    }
    ::munmap(p, mapped);
  }
};
using AlignedBuffer = std::unique_ptr<char, BufferDeleter>;

AlignedBuffer AllocateAligned(size_t n) {  // n: a multiple of kDirectBlock
  if (n >= kHugePage) {
    const size_t rounded = (n + kHugePage - 1) & ~(kHugePage - 1);
    {
      // The smallest spare that holds it.
      SpareBuffers& s = Spares();
      std::lock_guard lock(s.mu);
      auto best = s.buffers.end();
      for (auto it = s.buffers.begin(); it != s.buffers.end(); ++it) {
        if (it->second >= rounded && (best == s.buffers.end() || it->second < best->second)) best = it;
      }
      if (best != s.buffers.end()) {
        AlignedBuffer b(best->first, BufferDeleter{best->second});
        s.buffers.erase(best);
        return b;
      }
    }
    // Mapped with a huge page of slack, then cut to the aligned part.
    void* m = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<uintptr_t>(m);
    const uintptr_t aligned = (start + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1);
    if (aligned > start) ::munmap(m, aligned - start);
    const uintptr_t tail = start + rounded + kHugePage - (aligned + rounded);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + rounded), tail);
    (void)::madvise(reinterpret_cast<void*>(aligned), rounded, MADV_HUGEPAGE);
    return AlignedBuffer(reinterpret_cast<char*>(aligned), BufferDeleter{rounded});
  }
  auto* p = static_cast<char*>(std::aligned_alloc(kDirectBlock, n));
  if (p == nullptr) throw std::bad_alloc();
  return AlignedBuffer(p);
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string m = what + " \"" + path + "\": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(m));
  return IoError(std::move(m));
}

class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size), allocated_(size) {}
  ~PosixFile() override {
    if (direct_.load(std::memory_order_acquire)) {
      (void)WriteOut();  // what a closed buffered file would have left in the page cache
      ::close(dfd_);
    }
    ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (direct_.load(std::memory_order_acquire)) return AppendDirect(data);
    // mu_ orders appends against the preallocator's zero writes, which must never land on
    // bytes an append has written.
    std::lock_guard lock(mu_);
    uint64_t at = size_.load(std::memory_order_relaxed);
    Status s = WriteAt(at, data);
    if (at > allocated_) allocated_ = at;
    size_.store(at, std::memory_order_release);
    return s;
  }
  Status AppendFrom(const File& src, uint64_t offset, uint64_t n) override {
    if (direct_.load(std::memory_order_acquire) || src.fd() < 0) return File::AppendFrom(src, offset, n);
    std::unique_lock lock(mu_);
    uint64_t at = size_.load(std::memory_order_relaxed);
    const uint64_t start = at;
    auto in = static_cast<off_t>(offset);
    while (n > 0) {
      auto out = static_cast<off_t>(at);
      ssize_t c = ::copy_file_range(src.fd(), &in, fd_, &out, static_cast<size_t>(n), 0);
      if (c < 0 && errno == EINTR) continue;
      if (c <= 0) {
        const int err = c < 0 ? errno : 0;
        // Not supported between these files (or the source ended early): the rest by reads and
        // writes, if nothing was copied yet; a failure half way is an error like a short write.
        if (at == start && (err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP)) {
          lock.unlock();
          return File::AppendFrom(src, offset, n);
        }
        size_.store(at, std::memory_order_release);
        if (at > allocated_) allocated_ = at;
        return err != 0 ? ErrnoStatus("copy_file_range", path_, err) : IoError("short copy from " + src.path());
      }
      at += static_cast<uint64_t>(c);
      n -= static_cast<uint64_t>(c);
    }
    if (at > allocated_) allocated_ = at;
    size_.store(at, std::memory_order_release);
    return Status::Ok();
  }
  Status Sync() override {
    if (direct_.load(std::memory_order_acquire)) EC_RETURN_IF_ERROR(WriteOut());
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    if (direct_.load(std::memory_order_acquire)) return TruncateDirect(size);
    std::lock_guard lock(mu_);
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    size_.store(size, std::memory_order_release);
    allocated_ = size;
    return Status::Ok();
  }
  Result<uint64_t> Preallocate(uint64_t end) override {
    if (direct_.load(std::memory_order_acquire)) return PreallocateDirect(end);
    // Small steps under mu_, so an append waits for at most one step's copy.
    static constexpr size_t kStep = 64 * 1024;
    static const std::string* zeros = new std::string(kStep, '\0');  // never freed
    bool wrote = false;
    while (true) {
      std::lock_guard lock(mu_);
      if (trimmed_) return allocated_;
      uint64_t from = std::max(allocated_, size_.load(std::memory_order_relaxed));
      if (from >= end) break;
      uint64_t to = std::min<uint64_t>(from + kStep, end);
      uint64_t at = from;
      Status s = WriteAt(at, std::string_view(zeros->data(), static_cast<size_t>(to - from)));
      if (at > allocated_) allocated_ = at;
      if (!s.ok()) return s;
      wrote = true;
    }
    if (wrote) EC_RETURN_IF_ERROR(Sync());
    std::lock_guard lock(mu_);
    return allocated_;
  }
  uint64_t AllocatedSize() const override {
    std::lock_guard lock(mu_);
    return allocated_;
  }
  Status Recycle() override {
    std::unique_lock io(io_mu_, std::defer_lock);
    if (direct_.load(std::memory_order_acquire)) io.lock();
    std::lock_guard lock(mu_);
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
    size_.store(0, std::memory_order_release);
    allocated_ = static_cast<uint64_t>(st.st_size);
    trimmed_ = false;
    buf_start_ = written_end_ = 0;  // buffered bytes not yet written are dropped with the rest
    return Status::Ok();
  }
  Status TrimPreallocation() override {
    if (direct_.load(std::memory_order_acquire)) {
      // The file must end at Size(), and direct writes cover whole blocks: back to buffered
      // writes (only sealed segments are trimmed; nothing appends to them any more).
      std::lock_guard io(io_mu_);
      EC_RETURN_IF_ERROR(WriteOutLocked());
      std::lock_guard lock(mu_);
      direct_.store(false, std::memory_order_release);
      ::close(dfd_);
      dfd_ = -1;
    }
    std::lock_guard lock(mu_);
    trimmed_ = true;
    uint64_t size = size_.load(std::memory_order_relaxed);
    if (allocated_ <= size) return Status::Ok();
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    allocated_ = size;
    return Status::Ok();
  }
  Result<size_t> ReadAt(uint64_t offset, size_t n, char* scratch) const override {
    // Direct writes: the buffered bytes go to the file first (a direct write drops the pages
    // it covers from the page cache, so the read below sees it).
    if (direct_.load(std::memory_order_acquire)) EC_RETURN_IF_ERROR(const_cast<PosixFile*>(this)->WriteOut());
    return PreadAll(offset, n, scratch);
  }
  Result<size_t> PreadAll(uint64_t offset, size_t n, char* scratch) const {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  int fd() const override { return fd_; }
  const std::string& path() const override { return path_; }
  void WriteBack(uint64_t offset, uint64_t length) override {
    if (direct_.load(std::memory_order_acquire)) return;  // nothing of it in the page cache
    (void)::sync_file_range(fd_, static_cast<off64_t>(offset), static_cast<off64_t>(length),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  }
  void ReleaseCache(uint64_t offset, uint64_t length) override {
    if (direct_.load(std::memory_order_acquire)) return;
    // DONTNEED starts writeback of dirty pages in the range and drops the clean ones.
    (void)::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                          POSIX_FADV_DONTNEED);
  }

  bool EnableDirectWrites() override {
    std::lock_guard io(io_mu_);
    std::lock_guard lock(mu_);
    if (direct_.load(std::memory_order_relaxed)) return true;
    if (trimmed_) return false;
    int dfd = ::open(path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (dfd < 0) return false;  // e.g. a filesystem without O_DIRECT
    // The last partial block is kept in memory: the next write rewrites it whole. Written back
    // right away as a probe (a filesystem may accept O_DIRECT at open and refuse the write);
    // past Size() the block then holds zeros, which is allowed (stale bytes or zeros).
    const uint64_t size = size_.load(std::memory_order_relaxed);
    const uint64_t tail_start = size & ~(kDirectBlock - 1);
    const size_t tail = static_cast<size_t>(size - tail_start);
    AlignedBuffer b = AllocateAligned(kInitialDirectBuffer);
    std::memset(b.get(), 0, kDirectBlock);
    Result<size_t> r = tail > 0 ? PreadAll(tail_start, tail, b.get()) : Result<size_t>(size_t{0});
    if (!r.ok() || *r != tail || !PwriteAll(dfd, b.get(), kDirectBlock, tail_start).ok()) {
      ::close(dfd);
      return false;
    }
    allocated_ = std::max(allocated_, tail_start + kDirectBlock);
    dfd_ = dfd;
    buf_ = std::move(b);
    buf_cap_ = std::max(kInitialDirectBuffer, buf_.get_deleter().mapped);  // a kept buffer may be larger
    spare_ = AllocateAligned(kInitialDirectBuffer);
    spare_cap_ = std::max(kInitialDirectBuffer, spare_.get_deleter().mapped);
    buf_start_ = tail_start;
    written_end_ = size;
    direct_.store(true, std::memory_order_release);
    return true;
  }

 private:
  // One huge page (see AllocateAligned): a pass's entries are ~1 MiB, and a buffer grown by
  // doubling from 64 KiB took fresh memory at each step, twice (the two buffers swap), for each
  // journal file: ~80% of the commit thread's page faults in a 50,000-line bench_server run.
  static constexpr size_t kInitialDirectBuffer = kHugePage;

  // Grows `buf` (capacity `cap`, a multiple of kDirectBlock) to hold `need` bytes, keeping its
  // first `keep` bytes.
  static void Reserve(AlignedBuffer& buf, size_t& cap, size_t keep, size_t need) {
    if (need <= cap) return;
    size_t grown = static_cast<size_t>(RoundUpToBlock(std::max(need, cap * 2)));
    if (grown >= kHugePage) grown = (grown + kHugePage - 1) & ~(kHugePage - 1);  // what AllocateAligned takes
    AlignedBuffer b = AllocateAligned(grown);
    if (keep > 0) std::memcpy(b.get(), buf.get(), keep);
    buf = std::move(b);
    cap = std::max(grown, buf.get_deleter().mapped);  // a kept buffer may be larger
  }

  Status AppendDirect(std::string_view data) {
    bool write_behind;
    {
      std::lock_guard lock(mu_);
      uint64_t at = size_.load(std::memory_order_relaxed);
      const size_t held = static_cast<size_t>(at - buf_start_);
      Reserve(buf_, buf_cap_, held, held + data.size());
      std::memcpy(buf_.get() + held, data.data(), data.size());
      at += data.size();
      if (at > allocated_) allocated_ = at;
      size_.store(at, std::memory_order_release);
      write_behind = at - written_end_ >= kDirectWriteBehind;
    }
    return write_behind ? WriteOut() : Status::Ok();
  }

  Status WriteOut() {
    data_writers_waiting_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard io(io_mu_);
    data_writers_waiting_.fetch_sub(1, std::memory_order_relaxed);
    return WriteOutLocked();
  }

  // Writes the buffered bytes [buf_start_, size_) with one direct write, the last partial
  // block padded with zeros. Under io_mu_ (writes in file order, one at a time); mu_ is held
  // only to swap buffers, so appends go on into the other one meanwhile.
  Status WriteOutLocked() {
    uint64_t start, end;
    {
      std::lock_guard lock(mu_);
      end = size_.load(std::memory_order_relaxed);
      if (end == written_end_) return Status::Ok();
      start = buf_start_;
      const uint64_t tail_start = end & ~(kDirectBlock - 1);
      const size_t tail = static_cast<size_t>(end - tail_start);
      // The next write starts at the last partial block again: it goes first in the other buffer.
      Reserve(spare_, spare_cap_, 0, kDirectBlock);
      std::swap(buf_, spare_);
      std::swap(buf_cap_, spare_cap_);
      if (tail > 0) std::memcpy(buf_.get(), spare_.get() + (tail_start - start), tail);
      buf_start_ = tail_start;
    }
    // spare_ now holds [start, end) and is ours alone (io_mu_) until the next write.
    const size_t len = static_cast<size_t>(end - start);
    const size_t padded = static_cast<size_t>(RoundUpToBlock(len));
    std::memset(spare_.get() + len, 0, padded - len);
    EC_RETURN_IF_ERROR(PwriteAll(dfd_, spare_.get(), padded, start));
    std::lock_guard lock(mu_);
    written_end_ = end;
    allocated_ = std::max(allocated_, start + padded);
    return Status::Ok();
  }

  Result<uint64_t> PreallocateDirect(uint64_t end) {
    static char* zeros = [] {
      char* z = AllocateAligned(kDirectZeroStep).release();  // never freed
      std::memset(z, 0, kDirectZeroStep);
      return z;
    }();
    bool wrote = false;
    while (true) {
      // A data write (a sync) waiting for io_mu_ goes before the next zero step: a mutex is
      // not fair, and this loop re-locking at once kept a journal sync waiting for a whole
      // multi-MiB zero fill. Bounded, so a stream of syncs cannot stall the fill for good.
      for (int i = 0; i < 200 && data_writers_waiting_.load(std::memory_order_relaxed) > 0; ++i)
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      // io_mu_: a data write never overlaps a zero write (both cover whole blocks, and the
      // zeros start at the block after the last appended byte). Appends go on meanwhile.
      std::lock_guard io(io_mu_);
      uint64_t from, to;
      {
        std::lock_guard lock(mu_);
        if (trimmed_) return allocated_;
        from = RoundUpToBlock(std::max(allocated_, size_.load(std::memory_order_relaxed)));
        if (from >= end) break;
        to = RoundUpToBlock(std::min(from + kDirectZeroStep, end));
      }
      EC_RETURN_IF_ERROR(PwriteAll(dfd_, zeros, static_cast<size_t>(to - from), from));
      std::lock_guard lock(mu_);
      allocated_ = std::max(allocated_, to);
      wrote = true;
    }
    if (wrote && ::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
    std::lock_guard lock(mu_);
    return allocated_;
  }

  Status TruncateDirect(uint64_t size) {
    std::lock_guard io(io_mu_);
    EC_RETURN_IF_ERROR(WriteOutLocked());
    std::lock_guard lock(mu_);
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    const uint64_t tail_start = size & ~(kDirectBlock - 1);
    const size_t tail = static_cast<size_t>(size - tail_start);
    if (tail > 0) {
      Result<size_t> r = PreadAll(tail_start, tail, buf_.get());
      if (!r.ok()) return r.status();
      if (*r != tail) return IoError("read \"" + path_ + "\": short read of its last block after a truncate");
    }
    buf_start_ = tail_start;
    written_end_ = size;
    size_.store(size, std::memory_order_release);
    allocated_ = size;
    return Status::Ok();
  }

  Status PwriteAll(int fd, const char* data, size_t n, uint64_t at) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(at));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      if (w == 0) return IoError("write \"" + path_ + "\": no progress");
      data += w;
      n -= static_cast<size_t>(w);
      at += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }

  // pwrite of all of `data` at `*at`; `*at` ends after what was written (a prefix on error).
  Status WriteAt(uint64_t& at, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      at += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  int fd_;
  std::string path_;
  std::atomic<uint64_t> size_;  // where the next Append writes
  mutable std::mutex mu_;       // appends, truncation and preallocation steps
  uint64_t allocated_;          // the file's length: size_ plus zeros written ahead; under mu_
  bool trimmed_ = false;        // TrimPreallocation ran: preallocate no more; under mu_
  // Direct writes (EnableDirectWrites): dfd_ is an O_DIRECT descriptor of the same file.
  std::atomic<bool> direct_{false};
  int dfd_ = -1;
  std::mutex io_mu_;  // one direct write (data or zeros) at a time; taken before mu_
  std::atomic<int> data_writers_waiting_{0};  // WriteOut calls waiting for io_mu_
  // Under mu_: the bytes [buf_start_, size_) are in buf_ (buf_start_ is a block boundary);
  // those below written_end_ are in the file already (the start of the last partial block,
  // kept to rewrite that block whole).
  AlignedBuffer buf_;
  size_t buf_cap_ = 0;
  uint64_t buf_start_ = 0;
  uint64_t written_end_ = 0;
  AlignedBuffer spare_;  // the buffer being written; under io_mu_ (swapped under both)
  size_t spare_cap_ = 0;
};

class PosixEnv : public Env {
 public:
  Result<std::shared_ptr<File>> OpenFile(const std::string& path, bool create) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("stat", path, err);
    }
    return std::shared_ptr<File>(
        std::make_shared<PosixFile>(fd, path, static_cast<uint64_t>(st.st_size)));
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return ErrnoStatus("list directory", dir, errno);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
  }
  Status CreateDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IoError("create directory \"" + dir + "\": " + ec.message());
    return Status::Ok();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path, errno);
    return Status::Ok();
  }
  Status RemoveDirAll(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (ec) return IoError("remove directory \"" + dir + "\": " + ec.message());
    return Status::Ok();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename", from, errno);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open directory", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus("fsync directory", dir, err);
    return Status::Ok();
  }
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never destroyed: used until process exit
  return env;
}

Status File::AppendFrom(const File& src, uint64_t offset, uint64_t n) {
  constexpr uint64_t kStep = 1 << 20;
  std::string buf;
  while (n > 0) {
    const size_t step = static_cast<size_t>(std::min(kStep, n));
    buf.resize(step);
    EC_ASSIGN_OR_RETURN(size_t got, src.ReadAt(offset, step, buf.data()));
    if (got != step) return IoError("short read of " + src.path());
    EC_RETURN_IF_ERROR(Append(buf));
    offset += step;
    n -= step;
  }
  return Status::Ok();
}

Status Env::WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, OpenFile(tmp, true));
    EC_RETURN_IF_ERROR(f->Truncate(0));
    EC_RETURN_IF_ERROR(f->Append(data));
    EC_RETURN_IF_ERROR(f->Sync());
  }
  EC_RETURN_IF_ERROR(RenameFile(tmp, path));
  return SyncDir(DirOf(path));
}

Result<std::string> Env::ReadFileToString(const std::string& path) {
  EC_ASSIGN_OR_RETURN(std::shared_ptr<File> f, OpenFile(path, false));
  std::string out(f->Size(), '\0');
  EC_ASSIGN_OR_RETURN(size_t n, f->ReadAt(0, out.size(), out.data()));
  out.resize(n);
  return out;
}

}  // namespace ec::log
