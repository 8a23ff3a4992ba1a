#pragma once
// A direct JSON-text-to-Value parser for text this program wrote itself: the canonical
// exchanges ingest stores in the raw log (json::AppendJson output, validated when ingested)
// that the pipeline parses again on every pass. It builds the Value tree in one walk over the
// text, without simdjson's tape and the tree conversion after it (ParseInto), which was a
// third of the pipeline thread's instructions.
//
// It gives exactly the Value ParseInto gives (same numbers bit for bit, same strings, same
// duplicate-key rule) for the text it accepts, and declines (returns false) everything it is
// not sure of: invalid UTF-8, unpaired surrogate escapes, numbers outside the double range,
// nesting at or beyond `max_depth`, anything that is not JSON. The caller then parses with
// ParseInto, which reports the error where there is one. Use ParseInto for input from outside.
//
// Stored exchanges repeat their shapes, so a key is first compared (16 bytes at once) with the
// key read last time in the same place: after the same key, or first inside the same key's
// object (a per-thread table of 64 KiB); only keys the plain scan read are kept there, so a
// match gives what scanning gives. An object's members are written where the object keeps
// them (room for Builder::kMaxInPlaceMembers taken from the arena before its children's), not
// on a stack the builder copies from; one with more goes on on the stack. A member's or
// element's integer of one to three digits is read inline; other numbers by ParseNumber.

#include <cstdint>
#include <string_view>

#include "base/arena.h"
#include "json/value.h"

namespace ec::json {

// Parses `text` into `*out` (storage in `arena`, strings copied: `text` may go away), or
// returns false (then `*out` is unspecified and `arena` may hold unused bytes).
bool ParseCompactInto(std::string_view text, Arena* arena, Value* out, uint32_t max_depth);

namespace compact_internal {

// The instruction sets the parser's stop index (a bit per byte a string scan stops at, built
// with the copy of the text) can be built with. The parser uses the best one the CPU has;
// every one must give the same index, so the tests run each one the CPU has.
enum class IndexIsa { kSse2, kAvx2, kAvx512Bw };
IndexIsa BestIndexIsa();
// Builds the index with `isa` from now on (every thread): for tests. False, and no change,
// when the CPU does not have it.
bool UseIndexIsa(IndexIsa isa);

}  // namespace compact_internal

}  // namespace ec::json
