#pragma once

// A request handler that is about to wait for a long time without using the CPU (a long poll
// waiting for records) says so with a BlockingWait. The server running the handler installs a
// hook for the calling thread that lends the handler's slot to other requests for the length of
// the wait: otherwise a few long-polling consumers would hold every slot and ingest requests
// would queue behind them for the whole poll.
//
// The hook is per thread and optional: with none installed (tests, offline tools) a
// BlockingWait does nothing.

namespace ec {

struct BlockingWaitHook {
  void (*enter)(void* ctx) = nullptr;  // the wait starts: give the slot away
  void (*leave)(void* ctx) = nullptr;  // the wait is over: take a slot back (may block)
  void* ctx = nullptr;
};

// Installs `hook` for the calling thread while it lives; restores the previous one after.
class ScopedBlockingWaitHook {
 public:
  explicit ScopedBlockingWaitHook(BlockingWaitHook hook);
  ~ScopedBlockingWaitHook();
  ScopedBlockingWaitHook(const ScopedBlockingWaitHook&) = delete;
  ScopedBlockingWaitHook& operator=(const ScopedBlockingWaitHook&) = delete;

 private:
  BlockingWaitHook previous_;
};

// Runs the calling thread's hook around a long wait (enter now, leave at destruction).
class BlockingWait {
 public:
  BlockingWait();
  ~BlockingWait();
  BlockingWait(const BlockingWait&) = delete;
  BlockingWait& operator=(const BlockingWait&) = delete;

 private:
  BlockingWaitHook hook_;
};

}  // namespace ec
