#pragma once
// A bump allocator: many small allocations, freed all at once with the arena.
// Not thread-safe; one owner at a time. Memory is never returned before destruction.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <memory>  // kept: users of this header rely on it
#include <utility>
#include <vector>  // kept: users of this header rely on it

namespace ec {

class Arena {
 public:
  explicit Arena(size_t first_block_bytes = 4096) : next_block_bytes_(first_block_bytes) {}
  ~Arena() { FreeBlocks(); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&& other) noexcept { TakeFrom(other); }
  Arena& operator=(Arena&& other) noexcept {
    if (this != &other) {
      FreeBlocks();
      TakeFrom(other);
    }
    return *this;
  }

  // Uninitialised storage for `bytes`, aligned to `align` (a power of two <= 16).
  void* Allocate(size_t bytes, size_t align = alignof(std::max_align_t)) {
    size_t pad = (align - reinterpret_cast<uintptr_t>(cur_) % align) % align;
    if (cur_ == nullptr || pad + bytes > static_cast<size_t>(end_ - cur_)) return AllocateSlow(bytes);
    char* p = cur_ + pad;
    cur_ = p + bytes;
    return p;
  }

  // Storage for `n` objects of trivially destructible T (constructed by the caller).
  template <typename T>
  T* AllocateArray(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    return static_cast<T*>(Allocate(sizeof(T) * n, alignof(T)));
  }

  // A copy of `s` that lives as long as the arena (not NUL-terminated).
  std::string_view CopyString(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(Allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Bytes reserved from the system so far.
  size_t bytes_reserved() const { return bytes_reserved_; }

 private:
  // Blocks form a singly linked list through a header at their start: one malloc per block and
  // nothing else (a vector of block pointers cost a second malloc for every short-lived arena,
  // e.g. one per expression evaluation).
  struct alignas(std::max_align_t) BlockHeader {
    BlockHeader* next;
    size_t capacity;  // usable bytes after the header
  };

  void* AllocateSlow(size_t bytes);
  char* NewBlock(size_t bytes);
  void FreeBlocks();
  void TakeFrom(Arena& other) {
    blocks_ = std::exchange(other.blocks_, nullptr);
    cur_ = std::exchange(other.cur_, nullptr);
    end_ = std::exchange(other.end_, nullptr);
    next_block_bytes_ = other.next_block_bytes_;
    bytes_reserved_ = std::exchange(other.bytes_reserved_, 0);
  }

  BlockHeader* blocks_ = nullptr;
  char* cur_ = nullptr;
  char* end_ = nullptr;
  size_t next_block_bytes_ = 4096;
  size_t bytes_reserved_ = 0;
};

}  // namespace ec
