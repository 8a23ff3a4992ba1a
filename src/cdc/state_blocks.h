#pragma once
// Heap blocks of the state map (EncodedState::Copy's state-with-control-block, StateCache's
// per-key nodes), kept for reuse instead of going back to malloc.
//
// Why: a pass allocates a new state per changelog exchange, and the commit of the pass before
// frees the states they replace, hundreds at once. glibc's per-size cache holds 7 blocks; the
// rest went to its unsorted bin, and the next pass's mallocs sorted them back one by one
// (`_int_malloc`, `unlink_chunk`: each touches the chunk and its neighbours, all cold), ~6% of
// the pipeline thread in perf on serve. Here a freed block goes on a per-thread list of its
// size class and the next allocation of that class takes the last one freed: one touch of
// the block itself, which the caller writes next anyway.
//
// Any thread may free a block another thread allocated (the RocksDB writer can hold a state's
// last reference): a thread's list of a class holds at most kBatch blocks; a full list moves
// as one batch to a process-wide depot (under a mutex, once per kBatch frees), where a thread
// whose list is empty takes a whole batch. The depot keeps at most kMaxDepotBytes; beyond
// that, and for blocks above kMaxBlockBytes, memory goes back to operator delete.
#include <cstddef>

namespace ec::cdc::state_blocks {

// A block of at least `bytes` bytes, aligned as operator new's.
void* Allocate(size_t bytes);
// Gives back a block from Allocate(bytes) (the same `bytes`), from any thread.
void Free(void* block, size_t bytes);

// Bytes in blocks held for reuse by the depot and the calling thread's lists (tests).
size_t HeldBytes();

constexpr size_t kClassBytes = 64;      // sizes are rounded up to a multiple of this
constexpr size_t kMaxBlockBytes = 4096;  // larger blocks are not kept
constexpr size_t kBatch = 64;            // blocks per thread list and per depot batch
constexpr size_t kMaxDepotBytes = size_t{16} << 20;

}  // namespace ec::cdc::state_blocks
