#include "log/offset_map.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace ec::log {
namespace {

constexpr size_t kMaxBlockBytes = size_t{1} << 18;  // what the slots' 18 offset bits reach
constexpr size_t kMaxBlocks = (size_t{1} << (32 - 18)) - 1;
constexpr size_t kFirstSlots = 1024;
constexpr size_t kEntryOverhead = sizeof(uint32_t) + sizeof(int64_t);

}  // namespace

// Blocks of a sixteenth of the budget (4 KiB to 256 KiB), so the last one overshoots little.
OffsetMap::OffsetMap(size_t budget_bytes)
    : budget_(budget_bytes),
      block_bytes_(std::clamp<size_t>(budget_bytes / 16, 4096, kMaxBlockBytes)),
      slots_(kFirstSlots) {}

OffsetMap::~OffsetMap() = default;

size_t OffsetMap::memory_bytes() const { return slots_.size() * sizeof(Slot) + arena_bytes_; }

uint64_t OffsetMap::Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

OffsetMap::EntryRef OffsetMap::Entry(uint32_t ref) const {
  const char* p = blocks_[(ref >> kOffsetBits) - 1].get() + (ref & ((1u << kOffsetBits) - 1));
  uint32_t size;
  std::memcpy(&size, p, sizeof size);
  return {p + sizeof size, size, reinterpret_cast<int64_t*>(const_cast<char*>(p + sizeof size + size))};
}

size_t OffsetMap::Probe(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  const uint32_t tag = static_cast<uint32_t>(hash >> 32);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.ref == 0) return i;
    if (s.tag != tag) continue;
    const EntryRef e = Entry(s.ref);
    if (e.size == key.size() && std::memcmp(e.key, key.data(), key.size()) == 0) return i;
  }
}

int64_t OffsetMap::Get(std::string_view key) const {
  const Slot& s = slots_[Probe(key, Hash(key))];
  if (s.ref == 0) return -1;
  int64_t offset;
  std::memcpy(&offset, Entry(s.ref).offset, sizeof offset);
  return offset;
}

bool OffsetMap::Grow() {
  const size_t bigger = slots_.size() * 2;
  if (size_ > 0 && arena_bytes_ + bigger * sizeof(Slot) > budget_) return false;
  std::vector<Slot> old(bigger);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.ref == 0) continue;
    const EntryRef e = Entry(s.ref);
    size_t i = Hash({e.key, e.size}) & mask;
    while (slots_[i].ref != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
  return true;
}

bool OffsetMap::Append(std::string_view key, int64_t offset, uint32_t* ref) {
  const size_t need = kEntryOverhead + key.size();
  if (blocks_.empty() || block_used_ + need > current_block_bytes_) {
    const size_t block = std::max(block_bytes_, need);  // a longer key gets a block of its own
    if (size_ > 0 && (memory_bytes() + block > budget_ || blocks_.size() >= kMaxBlocks)) return false;
    blocks_.push_back(std::make_unique<char[]>(block));
    current_block_bytes_ = block;
    block_used_ = 0;
    arena_bytes_ += block;
  }
  char* p = blocks_.back().get() + block_used_;
  const uint32_t size = static_cast<uint32_t>(key.size());
  std::memcpy(p, &size, sizeof size);
  std::memcpy(p + sizeof size, key.data(), key.size());
  std::memcpy(p + sizeof size + key.size(), &offset, sizeof offset);
  *ref = static_cast<uint32_t>((blocks_.size() << kOffsetBits) | block_used_);
  block_used_ += need;
  return true;
}

bool OffsetMap::Put(std::string_view key, int64_t offset) {
  const uint64_t hash = Hash(key);
  size_t i = Probe(key, hash);
  if (slots_[i].ref != 0) {
    std::memcpy(Entry(slots_[i].ref).offset, &offset, sizeof offset);
    return true;
  }
  // At most 3/4 full: probe runs stay short.
  if ((size_ + 1) * 4 > slots_.size() * 3) {
    if (!Grow()) return false;
    i = Probe(key, hash);
  }
  uint32_t ref;
  if (!Append(key, offset, &ref)) return false;
  slots_[i] = {ref, static_cast<uint32_t>(hash >> 32)};
  ++size_;
  return true;
}

}  // namespace ec::log
