#include "json/compact_parser.h"

#include <immintrin.h>  // SSE2 (x86-64 baseline); AVX2 and AVX-512BW where the CPU has them
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <type_traits>
#include <charconv>
#include <cstring>
#include <system_error>
#include <vector>

#include "base/bytes_equal.h"
#include "json/builder.h"

namespace ec::json {
namespace {

// NULs after the copied text (see CompactParser): 64, so that the stop index's last 64-byte
// block (the one holding the end's first NUL) is read inside the copy.
constexpr size_t kPadding = 64;

// The stop index of the 64 bytes at `src` (copied to `dst` on the way unless it is null): bit i
// is set when byte i is one a string scan stops at ('"', '\\', below 0x20 or above 0x7F; one
// signed compare finds both of the last two). One version per instruction set; the loads of
// the blocks do not depend on each other.
[[gnu::always_inline]] inline uint64_t IndexBlockSse2(const char* src, char* dst) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  uint64_t bits = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * k));
    if (dst != nullptr) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * k), chunk);
    const __m128i special = _mm_cmplt_epi8(chunk, space);
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)), special);
    bits |= static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(hit))) << (16 * k);
  }
  return bits;
}

[[gnu::target("avx2"), gnu::always_inline]] inline uint64_t IndexBlockAvx2(const char* src, char* dst) {
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  uint64_t bits = 0;
  for (int k = 0; k < 2; ++k) {
    const __m256i chunk = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * k));
    if (dst != nullptr) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32 * k), chunk);
    const __m256i special = _mm256_cmpgt_epi8(space, chunk);
    const __m256i hit = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(chunk, quote), _mm256_cmpeq_epi8(chunk, backslash)), special);
    bits |= static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(hit))) << (32 * k);
  }
  return bits;
}

[[gnu::target("avx512bw"), gnu::always_inline]] inline uint64_t IndexBlockAvx512(const char* src, char* dst) {
  const __m512i chunk = _mm512_loadu_si512(src);
  if (dst != nullptr) _mm512_storeu_si512(dst, chunk);
  return _mm512_cmpeq_epi8_mask(chunk, _mm512_set1_epi8('"')) | _mm512_cmpeq_epi8_mask(chunk, _mm512_set1_epi8('\\')) |
         _mm512_cmplt_epi8_mask(chunk, _mm512_set1_epi8(0x20));
}

// Copies the `n` bytes of `text` to `copy` (which has room for kPadding more, written as NULs)
// and writes the stop index of the copy to `bits`: words n / 64 + 1, the last one over the
// tail and the padding (read from the copy: the text may end at a page's end), so the end's
// first NUL is always a stop.
#define EC_COMPACT_INDEX_BODY(Block)                                          \
  size_t i = 0;                                                               \
  for (; i + 64 <= n; i += 64) bits[i / 64] = Block(text + i, copy + i);      \
  std::memcpy(copy + i, text + i, n - i);                                     \
  std::memset(copy + n, 0, kPadding);                                         \
  bits[i / 64] = Block(copy + i, nullptr)

void CopyAndIndexSse2(const char* text, size_t n, char* copy, uint64_t* bits) { EC_COMPACT_INDEX_BODY(IndexBlockSse2); }
[[gnu::target("avx2")]] void CopyAndIndexAvx2(const char* text, size_t n, char* copy, uint64_t* bits) {
  EC_COMPACT_INDEX_BODY(IndexBlockAvx2);
}
[[gnu::target("avx512bw")]] void CopyAndIndexAvx512(const char* text, size_t n, char* copy, uint64_t* bits) {
  EC_COMPACT_INDEX_BODY(IndexBlockAvx512);
}
#undef EC_COMPACT_INDEX_BODY

using CopyAndIndexFn = void (*)(const char*, size_t, char*, uint64_t*);

bool CpuHas(compact_internal::IndexIsa isa) {
  __builtin_cpu_init();  // may run before the constructors that would call it
  switch (isa) {
    case compact_internal::IndexIsa::kSse2: return true;
    case compact_internal::IndexIsa::kAvx2: return __builtin_cpu_supports("avx2");
    case compact_internal::IndexIsa::kAvx512Bw: return __builtin_cpu_supports("avx512bw");
  }
  return false;
}

CopyAndIndexFn IndexFnFor(compact_internal::IndexIsa isa) {
  switch (isa) {
    case compact_internal::IndexIsa::kAvx2: return CopyAndIndexAvx2;
    case compact_internal::IndexIsa::kAvx512Bw: return CopyAndIndexAvx512;
    case compact_internal::IndexIsa::kSse2: break;
  }
  return CopyAndIndexSse2;
}

void CopyAndIndexFirst(const char* text, size_t n, char* copy, uint64_t* bits);

// The one in use: the best the CPU has, chosen by the first call (constant-initialised, so a
// parse from another file's static constructor finds it set; tests switch it with UseIndexIsa).
constinit std::atomic<CopyAndIndexFn> copy_and_index{CopyAndIndexFirst};

void CopyAndIndexFirst(const char* text, size_t n, char* copy, uint64_t* bits) {
  const CopyAndIndexFn best = IndexFnFor(compact_internal::BestIndexIsa());
  copy_and_index.store(best, std::memory_order_relaxed);
  best(text, n, copy, bits);
}

constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// Writes the 16 bytes of `x` (a Value or string_view) to `dst` with one 16-byte store, as
// memcpy would copy them (Value's padding bytes included).
template <typename T>
inline void Store16(T* dst, const T& x) {
  static_assert(sizeof(T) == 16 && std::is_trivially_copyable_v<T>);
  const auto w = std::bit_cast<std::array<uint64_t, 2>>(x);
  // movq + punpcklqdq from the registers (_mm_set_epi64x was compiled as two 8-byte stores
  // to the stack and a 16-byte load: the very stall this avoids).
  const __m128i lo = _mm_cvtsi64_si128(static_cast<long long>(w[0]));
  const __m128i hi = _mm_cvtsi64_si128(static_cast<long long>(w[1]));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi64(lo, hi));
}

// One of 64 bits for a key, from its length and first and last bytes: different bits, different
// keys. The three are mixed by a multiplication (the top six bits of the product): the sum they
// were added up in before put two of the stored exchange's seven top-level names on one bit,
// and every record took the key-comparing path for it.
// `key` is inside the parser's copy, between its quotes: for an empty key key[0] and key[-1]
// are those quotes (the same for every empty key), so no test of the size is needed.
inline uint64_t KeyBit(const char* key, size_t size) {
  const uint32_t x = static_cast<uint32_t>(size) | static_cast<uint32_t>(static_cast<unsigned char>(key[0])) << 8 |
                     static_cast<uint32_t>(static_cast<unsigned char>(key[size - 1])) << 16;
  return uint64_t{1} << ((x * 0x9E3779B1u) >> 26);
}

// A key seen before at the same place: stored exchanges repeat their shape, so the key after
// "request" (or the first one inside "headers") is nearly always the one read there last time.
// An entry holds that key's bytes as the text spells them, '"', the key, '"', ':' (so at most
// 13 bytes of key), and what parsing it gave (KeyBit, the context of the key after it). A key
// is taken from an entry only when the text's 16 bytes match the entry's under its mask, and
// only keys the plain string scan read (no escape, no byte below 0x20 or above 0x7F) are
// stored, so a hit gives exactly the view, position and bit that scanning the key gives.
struct KeyGuess {
  alignas(16) char pattern[16];
  uint64_t bit;   // KeyBit of the key
  uint32_t next;  // KeyContext of the key: where the key after it is looked up
  uint16_t mask;  // one bit per byte of the pattern; bit 0 alone in an empty entry (never matches a '"')
  uint8_t size;   // the key's length
};
static_assert(sizeof(KeyGuess) == 32);
// The per-thread table: sets of two entries (the body of a POST to /customers and to /orders
// start with different keys after the same "body"), the most recent first; a key in neither
// replaces the second with the first and goes first. The shop's exchanges read their keys in
// 40 contexts: with 128 single entries a fifth shared an entry with another. 1024 sets are
// 64 KiB, of which a record touches a line per context.
constexpr uint32_t kKeyGuessBits = 10;
constexpr uint32_t kKeyGuessSets = uint32_t{1} << kKeyGuessBits;
constexpr size_t kMaxGuessedKey = 13;

// The context a key leaves for the one after it: a hash of its length and first 8 bytes (read
// from the copy, which has padding after the text; bytes past the key masked off) and its last.
inline uint32_t KeyContext(const char* key, size_t size) {
  uint64_t w;
  std::memcpy(&w, key, 8);
  if (size < 8) w &= (uint64_t{1} << (8 * size)) - 1;
  w ^= static_cast<uint64_t>(size) << 56 ^ static_cast<uint64_t>(static_cast<unsigned char>(key[size - 1])) << 48;
  return static_cast<uint32_t>((w * 0x9E3779B97F4A7C15ull) >> 32);
}
// The context of an object's first key: that of the key it is the value of (or the last key
// read before it, for an element of an array), made different from "the key after it".
constexpr uint32_t kFirstKeyContext = 0x5bd1e995u;

// The context's top bits (KeyContext's are the product's best mixed).
inline uint32_t GuessSlot(uint32_t context) { return context >> (32 - kKeyGuessBits); }

// Deeper documents go to ParseInto, whose limits (ours and simdjson's own) then decide.
constexpr uint32_t kDepthLimit = 256;

class CompactParser {
 public:
  CompactParser(std::string_view text, Arena* arena, uint32_t max_depth)
      : arena_(arena), max_depth_(std::min(max_depth, kDepthLimit)), stacks_(Stacks()) {
    // One copy of the whole text: strings without escapes point into it. NULs after it are
    // sentinels: scans stop at them without a bounds check, and 16-byte loads stay inside.
    const size_t n = text.size();
    copy_ = static_cast<char*>(arena->Allocate(n + kPadding, 1));
    p_ = copy_;
    end_ = copy_ + n;
    // The stop index (bits_), built in the same pass as the copy: one bit per byte of the
    // copy up to the end of the 64-byte block that holds the end's first NUL (always set, so
    // SkipPlain's search ends there at the latest). A string's scan is then one load of an
    // index word, a shift and a tzcnt: the index's loads do not depend on each other, where
    // each 16-byte scan's load waited for the previous string's end (~55 strings a record).
    const size_t words = n / 64 + 1;
    if (stacks_.bits.size() < words) stacks_.bits.resize(std::max<size_t>(words, 64));
    copy_and_index.load(std::memory_order_relaxed)(text.data(), n, copy_, stacks_.bits.data());
    bits_ = stacks_.bits.data();
    word_ = bits_[0];
    // The stacks are used through pointers, their whole size as room (no per-push capacity
    // test and value-initialisation of std::vector::emplace_back).
    if (stacks_.members.empty()) stacks_.members.resize(256);
    if (stacks_.values.empty()) stacks_.values.resize(256);
    members_ = stacks_.members.data();
    members_top_ = members_;
    members_end_ = members_ + stacks_.members.size();
    values_ = stacks_.values.data();
    values_top_ = values_;
    values_end_ = values_ + stacks_.values.size();
  }

  // `text` is the parser's input (the copy's original), checked for valid UTF-8 when a string
  // had a non-ASCII byte or an escape.
  bool Run(std::string_view text, Value* out) {
    const Value v = ParseValue(0);
    if (failed_) return false;
    SkipSpace();
    *out = v;
    if (p_ != end_) return false;
    // simdjson's validator, as ParseInto rejects invalid UTF-8 too.
    return !non_ascii_ || simdjson::validate_utf8(text.data(), text.size());
  }

 private:
  void SkipSpace() {
    // Stored records are compact: one compare says there is nothing to skip.
    if (static_cast<unsigned char>(*p_) > ' ') [[likely]] return;
    const char* from = p_;
    while (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t') ++p_;
    if (p_ != from) ++noncanonical_;  // AppendJson writes no whitespace
  }

  // Values are returned (in registers: Value is 16 trivially copyable bytes) and failure is
  // `failed_`: with a `Value*` out-parameter the callee's field-by-field stores were read back
  // by the caller as one 16-byte load, a store-forwarding stall per value that perf put at
  // about half of this parser's time. A failure also moves the position to the end's first
  // NUL, which no caller takes for the ',', ':', '}' or ']' it expects next: each fails in
  // turn up to Run without a test of `failed_` after every member and element.
  Value Fail() {
    failed_ = true;
    p_ = const_cast<char*>(end_);
    return Value();
  }

  Value ParseValue(uint32_t depth) {
    SkipSpace();
    switch (*p_) {
      case '{': return ParseObject(depth);
      case '[': return ParseArray(depth);
      case '"': {
        std::string_view s;
        if (!ParseString(&s)) return Fail();
        return Value::StringRef(s);
      }
      case 't': return Literal("true", Value::Bool(true));
      case 'f': return Literal("false", Value::Bool(false));
      case 'n': return Literal("null", Value::Null());
      default: return ParseNumber();
    }
  }

  // A member's or element's value: strings (most of them) are read here, without the call of
  // ParseValue and its prologue and epilogue (~30 of a string's ~75 instructions).
  [[gnu::always_inline]] Value ParseChild(uint32_t depth) {
    if (*p_ != '"') {
      // Numbers are called directly too: ParseValue's prologue saves every register its
      // object and array loops use, a number needs few.
      const unsigned char c = static_cast<unsigned char>(*p_);
      // Integers of one to three digits (a status, a quantity: about half a stored record's
      // numbers) are read here, without ParseNumber's call and its decimal and exponent tests:
      // the value ParseNumber gives them (exact, and canonical as AppendJson writes them).
      // Anything longer, or followed by a fraction or an exponent, goes to ParseNumber. The
      // bytes after the digits are inside the copy (its padding NULs end it).
      if (static_cast<unsigned>(c - '1') < 9) {
        uint32_t n = c - '0';
        const char* q = p_ + 1;
        uint32_t d = static_cast<uint32_t>(static_cast<unsigned char>(*q)) - '0';
        if (d < 10) {
          n = n * 10 + d;
          d = static_cast<uint32_t>(static_cast<unsigned char>(*++q)) - '0';
          if (d < 10) {
            n = n * 10 + d;
            d = static_cast<uint32_t>(static_cast<unsigned char>(*++q)) - '0';
          }
        }
        if (d >= 10 && *q != '.' && (*q | 0x20) != 'e') [[likely]] {
          p_ = const_cast<char*>(q);
          return Value::Number(static_cast<double>(n));
        }
        return ParseNumber();
      }
      if (static_cast<unsigned>(c - '0') < 10 || c == '-') return ParseNumber();
      SkipSpace();
      if (*p_ != '"') return ParseValue(depth);
    }
    {
      std::string_view s;
      if (!ParseString(&s)) return Fail();
      return Value::StringRef(s);
    }
    return ParseValue(depth);
  }

  Value Literal(std::string_view word, Value v) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) return Fail();
    p_ += word.size();
    return v;
  }

  // Room for one more member (element) on the stack; the stack doubles when it is full (the
  // pointers of the containers being parsed are kept as offsets, see ParseObject).
  [[gnu::noinline]] void GrowMembers() {
    const size_t used = static_cast<size_t>(members_top_ - members_);
    stacks_.members.resize(stacks_.members.size() * 2);
    members_ = stacks_.members.data();
    members_end_ = members_ + stacks_.members.size();
    members_top_ = members_ + used;
  }
  [[gnu::noinline]] void GrowValues() {
    const size_t used = static_cast<size_t>(values_top_ - values_);
    stacks_.values.resize(stacks_.values.size() * 2);
    values_ = stacks_.values.data();
    values_end_ = values_ + stacks_.values.size();
    values_top_ = values_ + used;
  }

  // Whether the text at the position is `guess`'s '"', key, '"', ':' (16 bytes there are
  // inside the copy: it has kPadding NULs after the text).
  [[gnu::always_inline]] bool GuessedKey(const KeyGuess& guess) const {
    const __m128i text = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
    const __m128i want = _mm_load_si128(reinterpret_cast<const __m128i*>(guess.pattern));
    const uint32_t same = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(text, want)));
    return (same & guess.mask) == guess.mask;
  }

  // Whether `key` is the key of one of the members from `from` to `to` (called only when its
  // KeyBit was set before in this object).
  static bool KeyRepeats(const Member* from, const Member* to, std::string_view key) {
    for (const Member* m = from; m != to; ++m) {
      if (m->key.size() == key.size() && BytesEqual(m->key.data(), key.data(), key.size())) return true;
    }
    return false;
  }

  // Reads a member's key and the ':' after it (at the key's '"' or whitespace before it):
  // `*context` is the KeyContext the key is read in, then the key's own. False on bad JSON.
  [[gnu::always_inline]] bool ReadKey(uint32_t* context, std::string_view* key, uint64_t* bit) {
    KeyGuess* set = guesses_ + 2 * GuessSlot(*context);
    const KeyGuess* hit = GuessedKey(set[0]) ? &set[0] : GuessedKey(set[1]) ? &set[1] : nullptr;
    if (hit != nullptr) [[likely]] {
      // '"', the key, '"', ':' as stored: the scan would stop at that '"' (the key has no
      // byte it stops at), so this is the view, bit and position scanning gives.
      *key = std::string_view(p_ + 1, hit->size);
      *bit = hit->bit;
      *context = hit->next;
      p_ += hit->size + 3;
    } else {
      if (*p_ != '"') {
        SkipSpace();
        if (*p_ != '"') return false;
      }
      // ParseString, knowing whether the plain scan read the key (only such keys are stored).
      char* start = ++p_;
      char* q = SkipPlain(start);
      bool plain = false;
      if (*q == '"') [[likely]] {
        *key = std::string_view(start, static_cast<size_t>(q - start));
        p_ = q + 1;
        plain = true;
      } else if (!ParseStringSlow(start, q, key)) {
        return false;
      }
      *bit = KeyBit(key->data(), key->size());
      const uint32_t next = KeyContext(key->data(), key->size());
      if (*p_ != ':') {
        SkipSpace();
        if (*p_ != ':') return false;
      } else if (plain && key->size() <= kMaxGuessedKey) {
        set[1] = set[0];
        std::memcpy(set[0].pattern, start - 1, sizeof set[0].pattern);  // '"', key, '"', ':', ...
        set[0].bit = *bit;
        set[0].next = next;
        set[0].mask = static_cast<uint16_t>((uint32_t{1} << (key->size() + 3)) - 1);
        set[0].size = static_cast<uint8_t>(key->size());
      }
      *context = next;
      ++p_;
    }
    return true;
  }

  Value ParseObject(uint32_t depth) {
    if (depth >= max_depth_) return Fail();
    const char* open = p_;
    const uint32_t noncanonical = noncanonical_;
    ++p_;  // '{'
    SkipSpace();
    if (*p_ == '}') {
      ++p_;
      Builder builder(arena_);
      return noncanonical_ != noncanonical
                 ? builder.Object({}, /*keys_stable=*/true)
                 : builder.UniqueObjectWithText({}, std::string_view(open, static_cast<size_t>(p_ - open)));
    }
    // The members are written where the object keeps them: room for kMaxInPlaceMembers after
    // room for the text's view (Builder::InPlaceObject), taken from the arena before the
    // children take theirs, so they are not copied from a stack. An object with more members
    // goes on in ParseObjectOnStack.
    auto* block = static_cast<char*>(
        arena_->Allocate(sizeof(std::string_view) + Builder::kMaxInPlaceMembers * sizeof(Member), alignof(Member)));
    Member* const first = reinterpret_cast<Member*>(block + sizeof(std::string_view));
    Member* top = first;
    bool unique = true;
    // Whitespace is looked for only where the expected byte is not there (compact text has
    // none). Keys set one bit each of `seen` (from their length and first and last bytes);
    // a key whose bit was set before is compared with the keys before it. So an object without
    // duplicates is kept as it was written.
    uint64_t seen = 0;
    // Each key is first compared with the one read last time after the same key (KeyGuess).
    uint32_t context = key_context_ ^ kFirstKeyContext;
    while (true) {
      std::string_view key;
      uint64_t bit;
      if (!ReadKey(&context, &key, &bit)) return Fail();
      // A child object's first key is looked up from this one.
      key_context_ = context;
      if ((seen & bit) != 0 && unique) [[unlikely]] {
        unique = !KeyRepeats(first, top, key);
      }
      seen |= bit;
      const Value v = ParseChild(depth + 1);
      // After a failure the position is at the end's NUL: the test below fails on it.
      if (top == first + Builder::kMaxInPlaceMembers) [[unlikely]] {
        return ParseObjectOnStack(depth, open, noncanonical, first, top, Member{key, v}, unique, seen, context);
      }
      Store16(&top->key, key);
      Store16(&top->value, v);
      ++top;
      if (*p_ != ',' && *p_ != '}') SkipSpace();
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return Fail();
      ++p_;
      break;
    }
    const std::string_view text(open, static_cast<size_t>(p_ - open));
    const size_t n = static_cast<size_t>(top - first);
    if (unique) [[likely]] return Builder::InPlaceObject(first, n, noncanonical_ == noncanonical ? &text : nullptr);
    // Merged repeated keys: AppendJson writes the merged object, not this text, so the arrays
    // and objects around it do not keep theirs either (this one is built without it).
    const bool canonical = noncanonical_ == noncanonical;
    ++noncanonical_;
    Builder builder(arena_);
    return canonical ? builder.ObjectWithText(std::span<const Member>(first, n), text)
                     : builder.Object(std::span<const Member>(first, n), /*keys_stable=*/true);
  }

  // ParseObject's members from the one that did not fit the room (`last`) on, on the member
  // stack (whose top the children use above them), and the object built from there.
  [[gnu::noinline]] Value ParseObjectOnStack(uint32_t depth, const char* open, uint32_t noncanonical, const Member* first,
                                             const Member* top, Member last, bool unique, uint64_t seen,
                                             uint32_t context) {
    // An offset: a child's push may move the stack (GrowMembers).
    const size_t base = static_cast<size_t>(members_top_ - members_);
    for (const Member* m = first; m != top; ++m) PushMember(*m);
    PushMember(last);
    if (*p_ != ',' && *p_ != '}') SkipSpace();
    if (*p_ == ',') {
      ++p_;
      while (true) {
        std::string_view key;
        uint64_t bit;
        if (!ReadKey(&context, &key, &bit)) return Fail();
        key_context_ = context;
        if ((seen & bit) != 0 && unique) [[unlikely]] {
          unique = !KeyRepeats(members_ + base, members_top_, key);
        }
        seen |= bit;
        const Value v = ParseChild(depth + 1);
        PushMember(Member{key, v});
        if (*p_ != ',' && *p_ != '}') SkipSpace();
        if (*p_ == ',') {
          ++p_;
          continue;
        }
        break;
      }
    }
    if (*p_ != '}') return Fail();
    ++p_;
    // As TreeConverter: keys live in the arena already; duplicates are merged by the builder.
    const std::span<const Member> span(members_ + base, static_cast<size_t>(members_top_ - members_) - base);
    const std::string_view text(open, static_cast<size_t>(p_ - open));
    Builder builder(arena_);
    const Value out = noncanonical_ != noncanonical ? builder.Object(span, /*keys_stable=*/true)
                      : unique                      ? builder.UniqueObjectWithText(span, text)
                                                    : builder.ObjectWithText(span, text);
    if (!unique) ++noncanonical_;
    members_top_ = members_ + base;
    return out;
  }

  void PushMember(const Member& m) {
    if (members_top_ == members_end_) [[unlikely]] GrowMembers();
    // Each half with one 16-byte store: the builder copies the members with 16-byte loads
    // (two 8-byte stores under one 16-byte load stall it, as above).
    Member* top = members_top_;  // in a register: the 16-byte stores may alias the field
    Store16(&top->key, m.key);
    Store16(&top->value, m.value);
    members_top_ = top + 1;
  }

  Value ParseArray(uint32_t depth) {
    if (depth >= max_depth_) return Fail();
    const char* open = p_;
    const uint32_t noncanonical = noncanonical_;
    ++p_;  // '['
    const size_t base = static_cast<size_t>(values_top_ - values_);
    SkipSpace();
    if (*p_ == ']') {
      ++p_;
    } else {
      while (true) {
        const Value v = ParseChild(depth + 1);
        if (values_top_ == values_end_) [[unlikely]] GrowValues();
        Value* top = values_top_;
        Store16(top, v);
        values_top_ = top + 1;
        if (*p_ != ',' && *p_ != ']') SkipSpace();
        if (*p_ == ',') {
          ++p_;
          continue;
        }
        if (*p_ != ']') return Fail();
        ++p_;
        break;
      }
    }
    const std::span<const Value> span(values_ + base, static_cast<size_t>(values_top_ - values_) - base);
    Builder builder(arena_);
    const Value out = noncanonical_ == noncanonical
                          ? builder.ArrayWithText(span, std::string_view(open, static_cast<size_t>(p_ - open)))
                          : builder.Array(span);
    values_top_ = values_ + base;
    return out;
  }

  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits at `p` (within the text), or -1.
  int32_t Hex4(const char* p) const {
    if (end_ - p < 4) return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = Hex(p[i]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    return v;
  }

  // The first byte at or after `q` (in the copy, at most end_) that is '"', '\\', below 0x20 or
  // above 0x7F (the padding's first NUL stops it at the end), from the stop index. The index
  // holds the copy's bytes as they were: only bytes before a string's end are rewritten
  // (ParseEscapedString), and no scan starts there again.
  // The word of the block the last scan was in is kept (word_): most strings start in the
  // block the previous one ended in, and then the scan's only dependency on `q` is the shift,
  // not a load whose address is computed from it (~6% less ec-pipeline CPU than loading the
  // word every time, 200,000 lines on serve).
  char* SkipPlain(char* q) {
    const size_t i = static_cast<size_t>(q - copy_);
    uint64_t word = word_;
    if (i / 64 != word_index_) [[unlikely]] {
      word_index_ = i / 64;
      word = word_ = bits_[i / 64];
    }
    const uint64_t* w = bits_ + i / 64;
    const uint64_t rest = word >> (i % 64);
    if (rest != 0) [[likely]] return q + std::countr_zero(rest);
    do {
      ++w;
    } while (*w == 0);
    return copy_ + static_cast<size_t>(w - bits_) * 64 + std::countr_zero(*w);
  }

  // SkipPlain for the rest of a string that has a non-ASCII byte: stops at '"', '\\' or a
  // byte below 0x20 only.
  static char* SkipPlainUtf8(char* q) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    while (true) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, control_max), chunk);  // <= 0x1F
      const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)), control);
      const int mask = _mm_movemask_epi8(hit);
      if (mask != 0) return q + __builtin_ctz(static_cast<unsigned>(mask));
      q += 16;
    }
  }

  // At '"'. Strings without escapes are views into the copy; others are unescaped in place
  // (the unescaped text is never longer than the escaped one). Inlined: the rest, rare in
  // stored records, is a call (ParseStringSlow).
  [[gnu::always_inline]] bool ParseString(std::string_view* out) {
    char* start = ++p_;
    char* q = SkipPlain(start);
    if (*q == '"') [[likely]] {
      *out = std::string_view(start, static_cast<size_t>(q - start));
      p_ = q + 1;
      return true;
    }
    return ParseStringSlow(start, q, out);
  }

  // At the first byte of a string that SkipPlain stopped at other than its closing '"'.
  [[gnu::noinline]] bool ParseStringSlow(char* start, char* q, std::string_view* out) {
    unsigned char c = static_cast<unsigned char>(*q);
    if (c >= 0x80) {
      // Only strings can hold non-ASCII bytes in text this parser accepts (no token starts
      // with one): the UTF-8 check of the whole text is left for when one was seen (Run).
      non_ascii_ = true;
      q = SkipPlainUtf8(q);
      c = static_cast<unsigned char>(*q);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(q - start));
        p_ = q + 1;
        return true;
      }
    }
    if (c == '\\') return ParseEscapedString(start, q, out);
    return false;  // a control character, or the padding at the end
  }

  bool ParseEscapedString(char* start, char* q, std::string_view* out) {
    // Unescaping in place changes the text around it, and AppendQuoted may escape otherwise:
    // no enclosing array or object keeps its text.
    ++noncanonical_;
    non_ascii_ = true;  // its bytes are not looked at one by one here: Run checks the UTF-8
    char* w = q;  // write position (<= q)
    while (true) {
      const unsigned char c = static_cast<unsigned char>(*q);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c != '\\') {
        *w++ = static_cast<char>(c);
        ++q;
        continue;
      }
      if (q + 1 >= end_) return false;
      const char e = q[1];
      q += 2;
      switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
          int32_t cp = Hex4(q);
          if (cp < 0) return false;
          q += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate first: ParseInto decides
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - q < 6 || q[0] != '\\' || q[1] != 'u') return false;
            const int32_t lo = Hex4(q + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            q += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          // UTF-8: at most 4 bytes for the 6 or 12 escape bytes read.
          if (cp < 0x80) {
            *w++ = static_cast<char>(cp);
          } else if (cp < 0x800) {
            *w++ = static_cast<char>(0xC0 | (cp >> 6));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          } else if (cp < 0x10000) {
            *w++ = static_cast<char>(0xE0 | (cp >> 12));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            *w++ = static_cast<char>(0xF0 | (cp >> 18));
            *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: return false;
      }
    }
    *out = std::string_view(start, static_cast<size_t>(w - start));
    p_ = q + 1;
    return true;
  }

  // JSON's number grammar; the value as simdjson gives it: integers of up to 18 digits exactly
  // (so "-0" is 0, as simdjson's int64 path makes it), everything else the correctly rounded
  // double of the literal (which is what simdjson's int64/uint64 conversion, its double parser
  // and ParseInto's widening of longer integers, and of negative ones of 19 digits below
  // -2^63, all give).
  [[gnu::noinline]] Value ParseNumber() {
    const char* start = p_;
    const char* q = p_;
    bool negative = false;
    if (*q == '-') {
      negative = true;
      ++q;
    }
    const char* digits = q;
    // The digits' value is accumulated as they are scanned (one pass, not a scan and a second
    // loop over them); it wraps for long literals (unsigned), which are not read as it.
    uint64_t n = 0;
    if (*q == '0') {
      ++q;
    } else if (*q >= '1' && *q <= '9') {
      do {
        n = n * 10 + static_cast<uint64_t>(*q - '0');
        ++q;
      } while (*q >= '0' && *q <= '9');
    } else {
      return Fail();
    }
    const size_t n_int = static_cast<size_t>(q - digits);
    bool integer = true;
    size_t frac = 0;  // fractional digits, when there is a fraction
    bool exponent = false;
    if (*q == '.') {
      integer = false;
      ++q;
      if (!(*q >= '0' && *q <= '9')) return Fail();
      const char* fraction = q;
      do {
        n = n * 10 + static_cast<uint64_t>(*q - '0');  // the decimal's digits without the point
        ++q;
      } while (*q >= '0' && *q <= '9');
      frac = static_cast<size_t>(q - fraction);
    }
    if (*q == 'e' || *q == 'E') {
      integer = false;
      exponent = true;
      ++q;
      if (*q == '+' || *q == '-') ++q;
      if (!(*q >= '0' && *q <= '9')) return Fail();
      while (*q >= '0' && *q <= '9') ++q;
    }
    Value out;
    if (integer && n_int <= 18) {
      const int64_t v = static_cast<int64_t>(n);  // below 10^18: exact
      out = Value::Number(static_cast<double>(negative ? -v : v));
      // AppendJsNumber writes integers below 2^53 as their digits, and -0 as "0".
      if (n_int > 15 || (negative && v == 0)) ++noncanonical_;
    } else if (frac != 0 && !exponent && n_int + frac <= 15) {
      // AppendJsNumber writes a decimal below 1e9 with at most four fractional digits as its
      // shortest digits (json/writer.cc AppendShortDecimal): those of this literal unless it
      // ends in a zero (no decimal of at most 15 digits reads back as another's double).
      if (n_int > 9 || frac > 4 || q[-1] == '0') ++noncanonical_;
      // A decimal of at most 15 digits without exponent (12.9, 620.0): its digits n are an
      // exact double (< 2^53), and so is 10^k for k <= 15, so the correctly rounded n / 10^k
      // is the correctly rounded value of the literal, which from_chars gives (Clinger's
      // fast path). "-0.0" is -0.0 either way.
      const double v = static_cast<double>(static_cast<int64_t>(n)) / kPow10[frac];
      out = Value::Number(negative ? -v : v);
    } else {
      ++noncanonical_;  // exponents, long decimals: AppendJsNumber may write other digits
      double d = 0;
      const std::from_chars_result r = std::from_chars(start, q, d);
      if (r.ec != std::errc() || r.ptr != q) return Fail();  // out of range: ParseInto decides
      out = Value::Number(d);
    }
    p_ = const_cast<char*>(q);
    return out;
  }

  struct Scratch {
    std::vector<Value> values;
    std::vector<Member> members;
    std::vector<uint64_t> bits;  // the stop index (see the constructor)
    KeyGuess guesses[2 * kKeyGuessSets];  // set i (entries 2i, 2i + 1) by GuessSlot of a key's context
    Scratch() {
      for (KeyGuess& g : guesses) {
        std::memset(g.pattern, 0, sizeof g.pattern);
        g.mask = 1;  // byte 0 must be a NUL: a key starts with '"'
        g.size = 0;
        g.bit = 0;
        g.next = 0;
      }
    }
  };
  static Scratch& Stacks() {
    thread_local Scratch scratch;
    return scratch;
  }

  Arena* arena_;
  uint32_t max_depth_;
  Scratch& stacks_;
  KeyGuess* guesses_ = stacks_.guesses;
  // The KeyContext of the last key read (of any object): where the next object's first key is
  // looked up.
  uint32_t key_context_ = 0;
  // The stacks of the members and elements of the objects and arrays being parsed: from
  // members_ (values_) to members_top_ (values_top_), room up to members_end_ (values_end_).
  Member* members_ = nullptr;
  Member* members_top_ = nullptr;
  Member* members_end_ = nullptr;
  Value* values_ = nullptr;
  Value* values_top_ = nullptr;
  Value* values_end_ = nullptr;
  char* copy_ = nullptr;
  const uint64_t* bits_ = nullptr;
  // SkipPlain's copy of bits_[word_index_].
  size_t word_index_ = 0;
  uint64_t word_ = 0;
  char* p_ = nullptr;
  const char* end_ = nullptr;
  bool failed_ = false;
  // A string had a byte above 0x7F (or an escape): the text's UTF-8 is checked at the end.
  bool non_ascii_ = false;
  // Counts what AppendJson would write otherwise (whitespace, escapes, number spellings): an
  // array or object whose parse did not move it is built with its text (Value::known_text).
  uint32_t noncanonical_ = 0;
};

}  // namespace

namespace compact_internal {

IndexIsa BestIndexIsa() {
  if (CpuHas(IndexIsa::kAvx512Bw)) return IndexIsa::kAvx512Bw;
  if (CpuHas(IndexIsa::kAvx2)) return IndexIsa::kAvx2;
  return IndexIsa::kSse2;
}

bool UseIndexIsa(IndexIsa isa) {
  if (!CpuHas(isa)) return false;
  copy_and_index.store(IndexFnFor(isa), std::memory_order_relaxed);
  return true;
}

}  // namespace compact_internal

bool ParseCompactInto(std::string_view text, Arena* arena, Value* out, uint32_t max_depth) {
  // Invalid UTF-8 is declined as before, but checked only when a string had a non-ASCII byte
  // (Run): stored shop records are ASCII, and simdjson's validator over every record was ~1%
  // of the pipeline thread (perf on serve).
  CompactParser parser(text, arena, max_depth);
  return parser.Run(text, out);
}

}  // namespace ec::json
