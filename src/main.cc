// The one binary: every subcommand is wired in src/cli/app.cc.
#include <malloc.h>

#include <cstdlib>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per core. In
  // serve, memory allocated on one thread (a pass's states, ingest's buffers) is freed on another
  // (the state writer, the commit thread), and each arena keeps the free space it got back:
  // peak RSS over 1,000,000 + 1,000,000 shop lines was 223.7 MiB with the default and 193.2 with
  // two arenas; over 50,000 + 50,000, 83.7-86.3 against 71.8-76.8 MiB, at the same CPU per line
  // and latency (five pairs; docs/ingest-performance.md). MALLOC_ARENA_MAX in the environment
  // still decides when set.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  return ec::cli::Main(argc, argv);
}
