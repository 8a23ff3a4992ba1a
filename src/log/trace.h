#pragma once
// Opt-in latency trace (docs/ingest-performance.md "Half-rate latency"): with the environment
// variable EC_TRACE_PASSES=FILE set, the log (syncs, durable appends, rolls, zero-fills) and the
// pipeline runner (one line per pass) append one line per event to FILE, each starting with the
// wall-clock time in microseconds (the clock the records' append times use) and a kind, then
// key=value fields. bench/trace_passes.py lines them up. Off (one relaxed load per call site)
// when the variable is unset.

#include <atomic>
#include <cstdint>

namespace ec::log {

namespace trace_internal {
// 0 = not decided yet, 1 = off, 2 = on.
extern std::atomic<int> state;
bool Init();
}  // namespace trace_internal

inline bool TraceEnabled() {
  int s = trace_internal::state.load(std::memory_order_relaxed);
  if (s == 0) return trace_internal::Init();
  return s == 2;
}

// Wall-clock microseconds.
int64_t TraceNowUs();

// How long the calling thread has waited, runnable, for a CPU since it started, in
// microseconds (/proc/thread-self/schedstat; 0 where the kernel does not keep it). The
// difference over a span tells "preempted" from "blocked" in a traced wait. A file read each:
// call it only when TraceEnabled().
int64_t TraceThreadRunDelayUs();

// Writes "<now_us> <fmt...>\n" (printf-style) to the trace file; no-op when tracing is off.
// Buffered: written out by TraceFlush, when the buffer fills, and at exit.
void TraceLine(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void TraceFlush();

}  // namespace ec::log
