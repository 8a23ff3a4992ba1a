#include "cdc/state_blocks.h"

#include <atomic>
#include <mutex>
#include <new>
#include <vector>

namespace ec::cdc::state_blocks {
namespace {

constexpr size_t kClasses = kMaxBlockBytes / kClassBytes;  // class c: blocks of (c + 1) * kClassBytes

constexpr size_t ClassOf(size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kClassBytes; }
constexpr size_t ClassBytes(size_t c) { return (c + 1) * kClassBytes; }

struct FreeBlock {
  FreeBlock* next;
};
struct List {
  FreeBlock* head = nullptr;
  size_t count = 0;
};

void DeleteList(FreeBlock* b) {
  while (b != nullptr) {
    FreeBlock* next = b->next;
    ::operator delete(b);
    b = next;
  }
}

struct Depot {
  std::mutex mu;
  std::vector<List> batches[kClasses];
  // batches[c].size(), readable without the mutex: a thread whose list is empty asks for a
  // batch on every allocation while the map grows (a new key's node and state, the depot
  // empty), and skips the lock when there is none. A batch added meanwhile is taken next time.
  std::atomic<size_t> batch_count[kClasses] = {};
  size_t bytes = 0;
};
// Never destroyed: a state can be freed by a static object's destructor at exit.
Depot& TheDepot() {
  static Depot* depot = new Depot;
  return *depot;
}

void ToDepot(size_t c, List list) {
  if (list.head == nullptr) return;
  const size_t bytes = list.count * ClassBytes(c);
  Depot& d = TheDepot();
  {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.bytes + bytes <= kMaxDepotBytes) {
      d.batches[c].push_back(list);
      d.batch_count[c].store(d.batches[c].size(), std::memory_order_relaxed);
      d.bytes += bytes;
      return;
    }
  }
  DeleteList(list.head);
}

[[maybe_unused]] bool FromDepot(size_t c, List* out) {
  Depot& d = TheDepot();
  if (d.batch_count[c].load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(d.mu);
  std::vector<List>& batches = d.batches[c];
  if (batches.empty()) return false;
  *out = batches.back();
  batches.pop_back();
  d.batch_count[c].store(batches.size(), std::memory_order_relaxed);
  d.bytes -= out->count * ClassBytes(c);
  return true;
}

// The thread's lists: trivially destructible, so an access is a plain TLS load (no guard).
// Their blocks go to the depot when the thread ends (Flusher, registered by the first slow
// path of the thread); after that the thread allocates and frees with operator new/delete.
struct Local {
  List lists[kClasses];
  bool registered = false;
  bool ended = false;
};
thread_local Local local;

struct Flusher {
  ~Flusher() {
    for (size_t c = 0; c < kClasses; ++c) {
      ToDepot(c, local.lists[c]);
      local.lists[c] = List{};
    }
    local.ended = true;
  }
};

[[maybe_unused]] void Register() {
  thread_local Flusher flusher;
  (void)flusher;
  local.registered = true;
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer every block goes back to the allocator, which then sees each use
// after free.
void* Allocate(size_t bytes) { return ::operator new(bytes); }
void Free(void* block, size_t) { ::operator delete(block); }
#else
void* Allocate(size_t bytes) {
  if (bytes > kMaxBlockBytes) return ::operator new(bytes);
  const size_t c = ClassOf(bytes);
  // The whole class size even then: another thread may free the block into its lists.
  if (local.ended) return ::operator new(ClassBytes(c));
  List& l = local.lists[c];
  if (l.head == nullptr) {
    if (!local.registered) Register();
    if (!FromDepot(c, &l)) return ::operator new(ClassBytes(c));
  }
  FreeBlock* b = l.head;
  l.head = b->next;
  --l.count;
  return b;
}

void Free(void* block, size_t bytes) {
  if (block == nullptr) return;
  if (bytes > kMaxBlockBytes || local.ended) {
    ::operator delete(block);
    return;
  }
  if (!local.registered) Register();  // a thread that only frees hands its lists on too
  const size_t c = ClassOf(bytes);
  List& l = local.lists[c];
  if (l.count >= kBatch) {
    ToDepot(c, l);
    l = List{};
  }
  FreeBlock* b = static_cast<FreeBlock*>(block);
  b->next = l.head;
  l.head = b;
  ++l.count;
}
#endif

size_t HeldBytes() {
  size_t bytes = 0;
  for (size_t c = 0; c < kClasses; ++c) bytes += local.lists[c].count * ClassBytes(c);
  Depot& d = TheDepot();
  std::lock_guard<std::mutex> lock(d.mu);
  return bytes + d.bytes;
}

}  // namespace ec::cdc::state_blocks
