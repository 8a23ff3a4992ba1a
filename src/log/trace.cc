#include "log/trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ec::log {
namespace trace_internal {

std::atomic<int> state{0};

namespace {
std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
FILE* file = nullptr;  // guarded by Mu()
}  // namespace

bool Init() {
  std::lock_guard l(Mu());
  int s = state.load();
  if (s != 0) return s == 2;
  const char* path = std::getenv("EC_TRACE_PASSES");
  if (path != nullptr && *path != '\0') {
    file = std::fopen(path, "a");
    if (file == nullptr) {
      std::fprintf(stderr, "eventception: cannot open the trace file %s (EC_TRACE_PASSES)\n", path);
    } else {
      // A large buffer: a trace line costs no system call, so tracing barely moves what it
      // measures; flushed when full, by TraceFlush and at exit.
      std::setvbuf(file, nullptr, _IOFBF, 4 << 20);
      std::atexit([] { TraceFlush(); });
    }
  }
  state.store(file != nullptr ? 2 : 1);
  return file != nullptr;
}

}  // namespace trace_internal

int64_t TraceNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t TraceThreadRunDelayUs() {
  // Opened once per thread (a traced thread asks a few times per pass or sync): a pread at 0
  // regenerates the file's text, ~2 us against ~15 for an fopen each time.
  thread_local const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[96];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long on_cpu_ns = 0, waited_ns = 0;
  return std::sscanf(buf, "%llu %llu", &on_cpu_ns, &waited_ns) == 2 ? static_cast<int64_t>(waited_ns / 1000) : 0;
}

void TraceLine(const char* fmt, ...) {
  if (!TraceEnabled()) return;
  const int64_t now = TraceNowUs();
  std::lock_guard l(trace_internal::Mu());
  std::fprintf(trace_internal::file, "%lld ", static_cast<long long>(now));
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(trace_internal::file, fmt, ap);
  va_end(ap);
  std::fputc('\n', trace_internal::file);
}

void TraceFlush() {
  if (trace_internal::state.load() != 2) return;
  std::lock_guard l(trace_internal::Mu());
  std::fflush(trace_internal::file);
}

}  // namespace ec::log
