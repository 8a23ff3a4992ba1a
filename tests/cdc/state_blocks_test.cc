// The state map's block pool (cdc/state_blocks.h): blocks are reused by size class, blocks
// freed on other threads (also fewer than a batch, by a thread that then ends) come back to
// an allocating thread through the depot, the depot is bounded, and StatePtrs built on it
// carry their bytes whichever thread frees them.
#include "cdc/state_blocks.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cdc/state_store.h"

namespace ec::cdc {
namespace {

#if !defined(__SANITIZE_ADDRESS__)

TEST(StateBlocks, AFreedBlockIsReusedForTheSameSizeClass) {
  void* a = state_blocks::Allocate(100);
  std::memset(a, 1, 100);
  state_blocks::Free(a, 100);
  // 100 and 128 bytes are one class (64-byte steps): the last block freed comes back.
  void* b = state_blocks::Allocate(128);
  EXPECT_EQ(a, b);
  std::memset(b, 2, 128);  // the whole class size is there
  // Another class does not take it.
  state_blocks::Free(b, 128);
  void* c = state_blocks::Allocate(129);
  EXPECT_NE(c, b);
  state_blocks::Free(c, 129);
  void* d = state_blocks::Allocate(64 * 2);
  EXPECT_EQ(d, b);
  state_blocks::Free(d, 128);
}

TEST(StateBlocks, LargeBlocksAreNotKept) {
  const size_t before = state_blocks::HeldBytes();
  void* a = state_blocks::Allocate(state_blocks::kMaxBlockBytes + 1);
  std::memset(a, 3, state_blocks::kMaxBlockBytes + 1);
  state_blocks::Free(a, state_blocks::kMaxBlockBytes + 1);
  EXPECT_EQ(state_blocks::HeldBytes(), before);
}

// Blocks allocated here, freed by another thread (several batches and a partial one, the
// thread then ending), are what this thread allocates next: the same addresses.
TEST(StateBlocks, BlocksFreedOnAnotherThreadComeBack) {
  constexpr size_t kBytes = 777;  // a class no other test here uses
  const size_t n = 3 * state_blocks::kBatch + 5;
  std::vector<void*> blocks;
  for (size_t i = 0; i < n; ++i) blocks.push_back(state_blocks::Allocate(kBytes));
  const std::set<void*> mine(blocks.begin(), blocks.end());
  ASSERT_EQ(mine.size(), n);
  std::thread([&] {
    for (void* b : blocks) state_blocks::Free(b, kBytes);
  }).join();
  size_t reused = 0;
  std::vector<void*> again;
  for (size_t i = 0; i < n; ++i) {
    void* b = state_blocks::Allocate(kBytes);
    std::memset(b, 4, kBytes);
    reused += mine.count(b);
    again.push_back(b);
  }
  EXPECT_EQ(reused, n);
  for (void* b : again) state_blocks::Free(b, kBytes);
}

TEST(StateBlocks, TheDepotIsBounded) {
  constexpr size_t kBytes = 4000;
  const size_t n = state_blocks::kMaxDepotBytes / 4096 + 4 * state_blocks::kBatch;
  std::vector<void*> blocks;
  for (size_t i = 0; i < n; ++i) blocks.push_back(state_blocks::Allocate(kBytes));
  std::thread([&] {
    for (void* b : blocks) state_blocks::Free(b, kBytes);
  }).join();
  EXPECT_LE(state_blocks::HeldBytes(), state_blocks::kMaxDepotBytes + 64 * state_blocks::kBatch * 64);
  // Still usable: what was kept is handed out again.
  std::vector<void*> again;
  for (size_t i = 0; i < n; ++i) again.push_back(state_blocks::Allocate(kBytes));
  for (void* b : again) state_blocks::Free(b, kBytes);
}

#endif

// States on pooled blocks: their bytes survive other states being freed and reallocated on
// other threads (a block handed out twice would show as another state's bytes).
TEST(StateBlocks, StatesKeepTheirBytesAcrossThreads) {
  std::vector<StatePtr> states;
  for (int i = 0; i < 2000; ++i) {
    states.push_back(EncodedState::Make(StoredState{false, i, std::string(i % 700, static_cast<char>('a' + i % 26))}));
  }
  std::vector<StatePtr> other(states.begin() + 1000, states.end());
  states.resize(1000);
  std::thread t([&] {
    other.clear();  // the last references: freed here
    for (int i = 0; i < 500; ++i) other.push_back(EncodedState::Make(StoredState{true, -i, std::string(i, 'z')}));
  });
  t.join();
  for (int i = 1000; i < 2000; ++i) {
    states.push_back(EncodedState::Make(StoredState{false, i, std::string(i % 700, static_cast<char>('a' + i % 26))}));
  }
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(states[i]->ts_ms(), i);
    ASSERT_FALSE(states[i]->deleted());
    ASSERT_EQ(states[i]->value(), std::string(i % 700, static_cast<char>('a' + i % 26))) << i;
  }
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(other[i]->deleted());
    ASSERT_EQ(other[i]->value(), std::string(i, 'z'));
  }
}

}  // namespace
}  // namespace ec::cdc
