#include "base/blocking_wait.h"

namespace ec {
namespace {
thread_local BlockingWaitHook current_hook;
}  // namespace

ScopedBlockingWaitHook::ScopedBlockingWaitHook(BlockingWaitHook hook) : previous_(current_hook) {
  current_hook = hook;
}

ScopedBlockingWaitHook::~ScopedBlockingWaitHook() { current_hook = previous_; }

BlockingWait::BlockingWait() : hook_(current_hook) {
  // Nested waits must not give the same slot away twice: the hook is cleared while it is lent.
  current_hook = BlockingWaitHook{};
  if (hook_.enter) hook_.enter(hook_.ctx);
}

BlockingWait::~BlockingWait() {
  if (hook_.leave) hook_.leave(hook_.ctx);
  current_hook = hook_;
}

}  // namespace ec
