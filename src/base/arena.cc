#include "base/arena.h"

#include <algorithm>

namespace ec {

namespace {

// A few recently released blocks per thread, handed to the next arena. Short-lived arenas (one
// per expression evaluation or per record) otherwise pay glibc's slow path twice per block:
// blocks are above the 1 KiB its per-thread cache serves, and that path was ~10% of a typical
// JSONata evaluation. Bounded: at most kCachedBlocks blocks of at most kMaxCachedBlock bytes
// per thread, freed when the thread exits.
constexpr int kCachedBlocks = 4;
constexpr size_t kMaxCachedBlock = 64 * 1024;

struct BlockCache {
  void* blocks[kCachedBlocks] = {};
  size_t capacities[kCachedBlocks] = {};
  int count = 0;
  // Arenas in static storage are destroyed after this thread's cache: they free directly.
  bool alive = true;
  ~BlockCache() {
    for (int i = 0; i < count; ++i) ::operator delete(blocks[i]);
    count = 0;
    alive = false;
  }
};

thread_local BlockCache block_cache;

}  // namespace

// Blocks are left uninitialised: Allocate hands out uninitialised storage anyway, and zeroing
// every block cost ~10% of the serve pipeline's CPU.
char* Arena::NewBlock(size_t bytes) {
  BlockCache& cache = block_cache;
  BlockHeader* header = nullptr;
  for (int i = cache.count - 1; i >= 0; --i) {
    if (cache.capacities[i] >= bytes) {
      header = static_cast<BlockHeader*>(cache.blocks[i]);
      header->capacity = cache.capacities[i];
      cache.blocks[i] = cache.blocks[cache.count - 1];
      cache.capacities[i] = cache.capacities[cache.count - 1];
      --cache.count;
      break;
    }
  }
  if (header == nullptr) {
    header = static_cast<BlockHeader*>(::operator new(sizeof(BlockHeader) + bytes));
    header->capacity = bytes;
  }
  header->next = blocks_;
  blocks_ = header;
  bytes_reserved_ += sizeof(BlockHeader) + header->capacity;
  return reinterpret_cast<char*>(header + 1);  // aligned to max_align_t, as the header is
}

void Arena::FreeBlocks() {
  BlockCache& cache = block_cache;
  while (blocks_ != nullptr) {
    BlockHeader* next = blocks_->next;
    if (cache.alive && cache.count < kCachedBlocks && blocks_->capacity <= kMaxCachedBlock) {
      cache.blocks[cache.count] = blocks_;
      cache.capacities[cache.count] = blocks_->capacity;
      ++cache.count;
    } else {
      ::operator delete(blocks_);
    }
    blocks_ = next;
  }
  cur_ = end_ = nullptr;
}

void* Arena::AllocateSlow(size_t bytes) {
  // Large requests get a block of their own so the current block keeps its free tail.
  if (bytes > next_block_bytes_ / 4 && cur_ != nullptr) return NewBlock(bytes);
  size_t size = std::max(next_block_bytes_, bytes);
  next_block_bytes_ = std::min<size_t>(next_block_bytes_ * 2, 1 << 20);
  char* p = NewBlock(size);
  cur_ = p + bytes;
  end_ = p + blocks_->capacity;  // a reused block may be larger than asked for
  return p;
}

}  // namespace ec
