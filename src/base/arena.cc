#include "base/arena.h"

#include <algorithm>

namespace ec {

// Blocks are left uninitialised (make_unique_for_overwrite): Allocate hands out uninitialised
// storage anyway, and zeroing every block cost ~10% of the serve pipeline's CPU.
void* Arena::AllocateSlow(size_t bytes) {
  constexpr size_t kAlign = alignof(std::max_align_t);
  // Large requests get a block of their own so the current block keeps its free tail.
  if (bytes > next_block_bytes_ / 4 && cur_ != nullptr) {
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(bytes + kAlign));
    bytes_reserved_ += bytes + kAlign;
    char* raw = blocks_.back().get();
    return raw + (kAlign - reinterpret_cast<uintptr_t>(raw) % kAlign) % kAlign;
  }
  size_t size = std::max(next_block_bytes_, bytes + kAlign);
  next_block_bytes_ = std::min<size_t>(next_block_bytes_ * 2, 1 << 20);
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
  bytes_reserved_ += size;
  char* raw = blocks_.back().get();
  char* p = raw + (kAlign - reinterpret_cast<uintptr_t>(raw) % kAlign) % kAlign;
  cur_ = p + bytes;
  end_ = raw + size;
  return p;
}

}  // namespace ec
