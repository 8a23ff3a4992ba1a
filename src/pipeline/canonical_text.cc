#include "pipeline/canonical_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <emmintrin.h>  // SSE2 (x86-64 baseline): strings are scanned 16 bytes at a time
#include <immintrin.h>  // AVX2, in functions built for it and called when the CPU has it

#include "base/bytes_equal.h"
#include "base/clock.h"
#include "json/writer.h"
#include "pipeline/canonical_text_hash.h"
#include "pipeline/decode_util.h"
#include "pipeline/ids.h"
#include "pipeline/processor.h"
#include "pipeline/time_util.h"

namespace ec::pipeline {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The stable id's hex digits after its 'x' (Sha256Hex128To: the first 128 bits).
constexpr size_t kIdHexDigits = kSha256Hex128Length;

// Bytes that end a string's plain run: the closing quote, a backslash, controls.
constexpr std::array<bool, 256> MakeStringStop() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  return t;
}
constexpr std::array<bool, 256> kStringStop = MakeStringStop();

// As normalize.cc's MediaType + IsJsonMediaType / the form check: does a string body with
// this content type get parsed by the tree path (and so need it)?
bool ParsesStringBody(std::string_view content_type) {
  std::string_view s = content_type.substr(0, content_type.find(';'));
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string media = internal::ToLower(s);
  return media == "application/json" ||
         (media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0) ||
         media == "application/x-www-form-urlencoded";
}

// A member name of an object, in the order the tree path writes them; the input must give
// its members in this order (each at most once) for the fast path.
constexpr std::string_view kTopKeys[] = {"id", "time", "latency_ms", "request", "response", "client", "gateway"};
constexpr std::string_view kRequestKeys[] = {"method", "url", "path", "query", "headers", "body"};
constexpr std::string_view kResponseKeys[] = {"status", "headers", "body"};
// What a member of request / response is, from its index in kRequestKeys / kResponseKeys (so
// Message branches on the index instead of comparing the name again).
enum MessageMember { kMethod, kUrl, kPath, kQuery, kHeaders, kBody, kStatus };
constexpr MessageMember kRequestMembers[] = {kMethod, kUrl, kPath, kQuery, kHeaders, kBody};
constexpr MessageMember kResponseMembers[] = {kStatus, kHeaders, kBody};

// a == b for the short names of the fast path (member names, header names): without a call to
// memcmp per compare (string_view's == calls it for every name of the same length: ~15 per
// record for the exchange's own keys alone).
inline bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && BytesEqual(a.data(), b.data(), a.size());
}

// Whether `s` has a byte 'A'..'Z' (a header name the tree path lower-cases), eight bytes at a
// time: for a byte b < 0x80, b + 0x3F has its high bit set iff b >= 'A', and b + 0x25 iff b > 'Z'
// (no carry leaves a byte); bytes >= 0x80 are masked out.
inline bool HasUpper(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto upper = [](uint64_t w) {
    const uint64_t low = w & ~kHigh;
    return ((low + kOnes * (0x80 - 'A')) & ~(low + kOnes * (0x80 - 'Z' - 1)) & ~w & kHigh) != 0;
  };
  const size_t n = s.size();
  uint64_t w;
  if (n >= 8) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::memcpy(&w, s.data() + i, 8);
      if (upper(w)) return true;
    }
    if (i == n) return false;
    std::memcpy(&w, s.data() + n - 8, 8);  // the last bytes again, overlapping
    return upper(w);
  }
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

// Whether the tree path would cut `path` (a query, a fragment, an absolute URL's "scheme://")
// or take the query from it. Sixteen bytes at a time where the record has them (`end`): one
// mask for '?', '#' and ':' instead of three tests per byte; a ':' is looked at alone.
bool PathCut(std::string_view path, const char* end) {
  size_t i = 0;
  while (i < path.size()) {
    const char* at = path.data() + i;
    if (end - at >= 16) {
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
      const __m128i cut = _mm_or_si128(_mm_cmpeq_epi8(w, _mm_set1_epi8('?')), _mm_cmpeq_epi8(w, _mm_set1_epi8('#')));
      const __m128i hit = _mm_or_si128(cut, _mm_cmpeq_epi8(w, _mm_set1_epi8(':')));
      unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hit));
      const size_t left = path.size() - i;
      if (left < 16) mask &= (1u << left) - 1;
      if (mask == 0) {
        i += 16;
        continue;
      }
      i += static_cast<size_t>(__builtin_ctz(mask));
    }
    const char c = path[i];
    if (c == '?' || c == '#') return true;
    if (c == ':' && path.substr(i + 1, 2) == "//") return true;
    ++i;
  }
  return false;
}

// A member name as compact input spells it: '"', the name, '"', ':' (16 bytes at most), with
// the mask of its bytes for a 16-byte compare.
struct QuotedName {
  char bytes[16] = {};
  unsigned mask = 0;
};
template <size_t N>
constexpr std::array<QuotedName, N> QuoteNames(const std::string_view (&names)[N]) {
  std::array<QuotedName, N> quoted{};
  for (size_t k = 0; k < N; ++k) {
    const std::string_view name = names[k];
    quoted[k].bytes[0] = '"';
    for (size_t i = 0; i < name.size(); ++i) quoted[k].bytes[1 + i] = name[i];
    quoted[k].bytes[1 + name.size()] = '"';
    quoted[k].bytes[2 + name.size()] = ':';
    quoted[k].mask = (1u << (name.size() + 3)) - 1;
  }
  return quoted;
}
template <size_t N>
constexpr bool FitCompare(const std::string_view (&names)[N]) {
  for (std::string_view name : names) {
    if (name.size() + 3 > 16) return false;
  }
  return true;
}
static_assert(FitCompare(kTopKeys) && FitCompare(kRequestKeys) && FitCompare(kResponseKeys),
              "every '\"name\":' fits one 16-byte compare");
constexpr auto kTopQuoted = QuoteNames(kTopKeys);
constexpr auto kRequestQuoted = QuoteNames(kRequestKeys);
constexpr auto kResponseQuoted = QuoteNames(kResponseKeys);

// The first of the exchange's own member names from index `from` on that the 16 bytes at `at`
// begin with, as '"name":' (compact input, the names in their order), or N: one 16-byte
// compare per name tried instead of scanning the name as a string, finding its index and
// then its ':'. The caller reads the name the general way when none matches.
template <size_t N>
size_t QuotedKeyIndex(const std::array<QuotedName, N>& names, size_t from, const char* at) {
  const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
  for (size_t k = from; k < N; ++k) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(names[k].bytes));
    const unsigned eq = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(w, q)));
    if ((eq & names[k].mask) == names[k].mask) return k;
  }
  return N;
}

template <size_t N>
size_t KeyIndex(const std::string_view (&keys)[N], size_t from, std::string_view key) {
  for (size_t k = from; k < N; ++k) {
    if (SameName(keys[k], key)) return k;
  }
  return N;
}

// The structural pass (CanonicalTextDecoder::quotes_): a 64-bit word per 64 bytes with a bit
// per '"', and whether any byte is a backslash, a control byte or >= 0x80. Across the record
// the compares are accumulated and tested once at the end (as int8, controls and bytes >= 0x80
// are both below ' ': one signed minimum covers them with AVX2). The last word covers the
// record's last n % 64 bytes (zero when there are none): read again from the 64 bytes ending
// at the record's end and shifted, so nothing past the record is read; a record shorter than
// 64 bytes is copied into spaces first. Bytes looked at twice there were clean the first time
// too. The loop is written out for each instruction set (a macro): a shared template would
// not inline the AVX2 block into it.
#define EC_QUOTE_BITS(block)                                   \
  size_t i = 0, w = 0;                                         \
  for (; i + 64 <= n; i += 64) words[w++] = block(s + i, acc); \
  const size_t rest = n - i;                                   \
  if (rest == 0) {                                             \
    words[w] = 0;                                              \
  } else if (n >= 64) {                                        \
    words[w] = block(s + n - 64, acc) >> (64 - rest);          \
  } else {                                                     \
    char padded[64];                                           \
    std::memset(padded, ' ', sizeof padded);                   \
    std::memcpy(padded, s, n);                                 \
    words[w] = block(padded, acc);                             \
  }

// acc[0]: the bytes' signed minimum so far; acc[1]: the backslashes so far.
[[gnu::target("avx2"), gnu::always_inline]] inline uint64_t QuoteBlockAvx2(const char* at, __m256i* acc) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + 32));
  const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\');
  acc[0] = _mm256_min_epi8(acc[0], _mm256_min_epi8(a, b));
  acc[1] = _mm256_or_si256(acc[1], _mm256_or_si256(_mm256_cmpeq_epi8(a, backslash), _mm256_cmpeq_epi8(b, backslash)));
  const uint32_t qa = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, quote)));
  const uint32_t qb = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, quote)));
  return uint64_t{qa} | uint64_t{qb} << 32;
}

[[gnu::target("avx2")]] bool QuoteBitsAvx2(const char* s, size_t n, uint64_t* words) {
  __m256i acc[2] = {_mm256_set1_epi8(' '), _mm256_setzero_si256()};
  EC_QUOTE_BITS(QuoteBlockAvx2);
  const __m256i bad = _mm256_or_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(' '), acc[0]), acc[1]);
  return _mm256_testz_si256(bad, bad) != 0;
}

// acc[0]: the bytes below ' ' (signed) so far (SSE2 has no signed byte minimum); acc[1]: the
// backslashes so far.
inline uint64_t QuoteBlockSse2(const char* at, __m128i* acc) {
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(' ');
  uint64_t quotes = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + 16 * k));
    acc[0] = _mm_or_si128(acc[0], _mm_cmplt_epi8(w, space));
    acc[1] = _mm_or_si128(acc[1], _mm_cmpeq_epi8(w, backslash));
    quotes |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(w, quote)))} << (16 * k);
  }
  return quotes;
}

bool QuoteBitsSse2(const char* s, size_t n, uint64_t* words) {
  __m128i acc[2] = {_mm_setzero_si128(), _mm_setzero_si128()};
  EC_QUOTE_BITS(QuoteBlockSse2);
  return _mm_movemask_epi8(_mm_or_si128(acc[0], acc[1])) == 0;
}
#undef EC_QUOTE_BITS

// Longer records are scanned per string (quotes_ stays at most 32 KiB per thread).
constexpr size_t kMaxIndexedBytes = 256 * 1024;

}  // namespace

CanonicalTextDecoder::StringIndex CanonicalTextDecoder::BestStringIndex() {
  static const StringIndex best = __builtin_cpu_supports("avx2") ? StringIndex::kAvx2 : StringIndex::kSse2;
  return best;
}

void CanonicalTextDecoder::IndexStrings(std::string_view text) {
  clean_ = false;
  if (string_index_ == StringIndex::kNone || text.size() > kMaxIndexedBytes) return;
  const size_t words = text.size() / 64 + 1;
  if (quotes_.size() < words) quotes_.resize(words);
  base_ = text.data();
  clean_ = string_index_ == StringIndex::kAvx2 ? QuoteBitsAvx2(text.data(), text.size(), quotes_.data())
                                               : QuoteBitsSse2(text.data(), text.size(), quotes_.data());
}

bool CanonicalTextDecoder::CleanStringFar(std::string_view* raw) {
  const char* s = p_ + 1;
  const size_t words = static_cast<size_t>(end_ - base_) / 64 + 1;
  for (size_t w = static_cast<size_t>(s - base_) / 64 + 1; w < words; ++w) {
    if (quotes_[w] != 0) {
      const char* close = base_ + w * 64 + __builtin_ctzll(quotes_[w]);
      *raw = std::string_view(s, static_cast<size_t>(close - s));
      p_ = close + 1;
      return true;
    }
  }
  return false;  // no closing quote: as RawStringSlow
}

CanonicalTextDecoder::CanonicalTextDecoder(const DecodeOptions& options)
    : options_(&options), redact_(options.redact.begin(), options.redact.end()), string_index_(BestStringIndex()) {
  max_depth_ = std::min<uint32_t>(options.max_depth, 60);
  // The exchange's own levels (record, request, headers) must be within the limit.
  if (max_depth_ < 8) usable_ = false;
  if (redact_.size() > kMaxPaths) usable_ = false;
  for (const std::string& p : redact_) {
    if (!usable_) break;
    std::vector<std::string_view> segs;
    size_t pos = 0;
    while (pos <= p.size()) {
      size_t dot = p.find('.', pos);
      if (dot == std::string::npos) dot = p.size();
      segs.push_back(std::string_view(p).substr(pos, dot - pos));
      pos = dot + 1;
    }
    // Paths at the id or the time are applied where the tree path assigns them.
    if (segs.size() > kMaxSegments || segs[0] == "id" || segs[0] == "time" || segs[0] == "*") {
      usable_ = false;
      break;
    }
    // The lower-cased path has its segments at the same offsets (ToLower keeps the length).
    std::string& lower = lowered_[paths_.size()];
    lower = internal::ToLower(p);
    for (size_t i = 0; i < segs.size(); ++i) {
      const size_t at = static_cast<size_t>(segs[i].data() - p.data());
      const std::string_view low = std::string_view(lower).substr(at, segs[i].size());
      segments_[paths_.size()][i] = Segment{segs[i], low, segs[i] == "*", i + 1 == segs.size(), segs[i] == "headers"};
    }
    top_.s[top_.n++] = State{static_cast<uint8_t>(paths_.size()), 0, false};
    top_.sizes |= segs[0] == "*" ? ~uint64_t{0} : SizeBit(segs[0].size());
    paths_.push_back(std::move(segs));
  }
  static_assert(std::size(kTopKeys) == kTopKeyCount && std::size(kRequestKeys) == kRequestKeyCount &&
                std::size(kResponseKeys) == kResponseKeyCount);
  if (!usable_) return;
  // What Match answers for the exchange's own members is the same for every record: computed
  // here, read by Walk and Message by the member's index.
  for (size_t k = 0; k < kTopKeyCount; ++k) Match(top_, kTopKeys[k], &top_known_[k].redact, &top_known_[k].child);
  for (size_t k = 0; k < kRequestKeyCount; ++k) {
    Match(top_known_[3].child, kRequestKeys[k], &request_known_[k].redact, &request_known_[k].child);
  }
  for (size_t k = 0; k < kResponseKeyCount; ++k) {
    Match(top_known_[4].child, kResponseKeys[k], &response_known_[k].redact, &response_known_[k].child);
  }
}

bool CanonicalTextDecoder::BuiltAs(const DecodeOptions& options) const {
  return std::min<uint32_t>(options.max_depth, 60) == max_depth_ &&
         std::equal(redact_.begin(), redact_.end(), options.redact.begin(), options.redact.end());
}

void CanonicalTextDecoder::DropWs() {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  if (dropping_) {
    while (p_ < end_ && ws(*p_)) ++p_;
    return;
  }
  Flush();
  while (p_ < end_ && ws(*p_)) ++p_;
  copy_ = p_;
}

inline bool CanonicalTextDecoder::RawString(std::string_view* raw) {
  const char* p = p_;
  if (clean_) {
    // The next '"' ends the string (the record has no escape, control or UTF-8 byte).
    if (p >= end_ || *p != '"') return false;
    const size_t at = static_cast<size_t>(p + 1 - base_);
    const uint64_t bits = quotes_[at / 64] >> (at % 64);
    if (bits == 0) return CleanStringFar(raw);
    const size_t size = static_cast<size_t>(__builtin_ctzll(bits));
    *raw = std::string_view(p + 1, size);
    p_ = p + 2 + size;
    return true;
  }
  if (end_ - p >= 17 && *p == '"') {
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(w, _mm_set1_epi8(0x1F)), w);  // <= 0x1F
    const __m128i quote = _mm_cmpeq_epi8(w, _mm_set1_epi8('"'));
    const __m128i hit = _mm_or_si128(_mm_or_si128(quote, _mm_cmpeq_epi8(w, _mm_set1_epi8('\\'))), control);
    // The first stop byte or byte >= 0x80 (its high bit is the mask's): taken when it is the
    // closing quote (no escape, control or UTF-8 to check before it).
    const unsigned first = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(hit, w)));
    const unsigned low = first & (0u - first);
    if ((low & static_cast<unsigned>(_mm_movemask_epi8(quote))) != 0) {
      const int at = __builtin_ctz(low);
      *raw = std::string_view(p + 1, static_cast<size_t>(at));
      p_ = p + 2 + at;
      return true;
    }
  }
  return RawStringSlow(raw);
}

bool CanonicalTextDecoder::RawStringSlow(std::string_view* raw) {
  if (p_ >= end_ || *p_ != '"') return false;
  const char* s = ++p_;
  unsigned char high = 0;
  // Sixteen bytes at a time (SSE2, the x86-64 baseline): one compare per kind of stop byte and
  // one mask; the input's high bits come from the same load (most strings end in the first 16).
  {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    while (end_ - p_ >= 16) {
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(w, control_max), w);  // <= 0x1F
      const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, backslash)), control);
      const unsigned stop = static_cast<unsigned>(_mm_movemask_epi8(hit));
      const unsigned top = static_cast<unsigned>(_mm_movemask_epi8(w));  // bytes >= 0x80
      if (stop == 0) {
        if (top != 0) high = 0x80;
        p_ += 16;
        continue;
      }
      const int at = __builtin_ctz(stop);
      if ((top & ((1u << at) - 1)) != 0) high = 0x80;
      p_ += at;
      if (*p_ != '"') return false;  // an escape or a control
      *raw = std::string_view(s, static_cast<size_t>(p_ - s));
      ++p_;
      return high == 0 || internal::IsValidUtf8(*raw);
    }
  }
  // The last bytes of the record: eight at a time: the lowest flagged byte of each test below is exact (borrows only
  // flag bytes above a true hit), so the first quote, backslash or control is found at once.
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  while (end_ - p_ >= 8) {
    uint64_t w;
    std::memcpy(&w, p_, 8);  // little-endian: the first byte is the lowest
    const uint64_t q = w ^ (kOnes * '"'), b = w ^ (kOnes * '\\');
    const uint64_t special = (((q - kOnes) & ~q) | ((b - kOnes) & ~b) | ((w - kOnes * 0x20) & ~w)) & kHigh;
    if (special == 0) {
      if ((w & kHigh) != 0) high = 0x80;
      p_ += 8;
      continue;
    }
    const int at = __builtin_ctzll(special) / 8;
    if ((w & kHigh & ((uint64_t{1} << (8 * at)) - 1)) != 0) high = 0x80;
    p_ += at;
    if (*p_ != '"') return false;  // an escape or a control
    *raw = std::string_view(s, static_cast<size_t>(p_ - s));
    ++p_;
    return high == 0 || internal::IsValidUtf8(*raw);
  }
  // Escapes (the tree path unescapes and escapes again) and controls (invalid JSON) decline.
  while (p_ < end_) {
    const auto c = static_cast<unsigned char>(*p_);
    if (kStringStop[c]) {
      if (c == '"') break;
      return false;
    }
    high |= c;
    ++p_;
  }
  if (p_ >= end_) return false;
  *raw = std::string_view(s, static_cast<size_t>(p_ - s));
  ++p_;
  // The parser rejects invalid UTF-8; valid UTF-8 is what AppendQuoted writes as it is.
  return (high & 0x80) == 0 || internal::IsValidUtf8(*raw);
}

bool CanonicalTextDecoder::Number() {
  // Scanned with a local pointer (p_ is a member a char store may alias: the compiler kept
  // storing it per digit), noting where the dot is and whether an exponent follows, so the
  // checks below need no second pass over the text.
  const char* s = p_;
  const char* q = p_;
  const char* const end = end_;
  if (q < end && *q == '-') ++q;
  if (q >= end) return false;
  const char* int_start = q;
  if (*q == '0') {
    ++q;
  } else if (*q >= '1' && *q <= '9') {
    while (q < end && IsDigit(*q)) ++q;
  } else {
    return false;
  }
  const char* dot = nullptr;
  bool exponent = false;
  if (q < end && *q == '.') {
    dot = q;
    ++q;
    if (q >= end || !IsDigit(*q)) return false;
    while (q < end && IsDigit(*q)) ++q;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    exponent = true;
    ++q;
    if (q < end && (*q == '+' || *q == '-')) ++q;
    if (q >= end || !IsDigit(*q)) return false;
    while (q < end && IsDigit(*q)) ++q;
  }
  p_ = q;
  const std::string_view text(s, static_cast<size_t>(q - s));
  if (dot == nullptr && !exponent) {
    // Up to 15 digits every integer is exact and written as its digits; longer ones may be
    // outside what the parser takes as a number at all.
    const size_t digits = static_cast<size_t>(q - int_start);
    if (digits > 15 || text == "-0") return false;
    return true;  // written as it is
  }
  if (!exponent) {
    // I.F with at most 9 integer and 1-4 fraction digits, the last not 0 (prices, latencies):
    // AppendJsNumber writes exactly these digits (its short-decimal case), so they stay.
    const size_t int_digits = static_cast<size_t>(dot - int_start);
    const char* frac_end = q;  // without the fraction's trailing zeros (the dot stops it)
    while (frac_end[-1] == '0') --frac_end;
    const size_t frac_digits = static_cast<size_t>(frac_end - dot - 1);
    if (frac_end == q) {
      if (int_digits <= 9 && frac_digits <= 4) return true;  // a digit follows the dot
    } else if (frac_digits == 0 ? int_digits <= 15 : int_digits <= 9 && frac_digits <= 4) {
      // Trailing zeros (620.0, 2.50): the same number as without them, which AppendJsNumber
      // writes as those digits (an integer up to 15 digits as it is, 0 for -0.0, else the
      // short decimal): written here without the parse and the formatting (from_chars and
      // AppendJsNumber were ~300 instructions per such number; ~1-2 per shop record).
      std::string_view digits(s, static_cast<size_t>((frac_digits == 0 ? dot : frac_end) - s));
      if (frac_digits == 0 && int_digits == 1 && *int_start == '0') digits = "0";  // 0.0, -0.0
      p_ = s;
      Flush();
      out_->append(digits);
      p_ = copy_ = q;
      return true;
    }
  }
  if (text.size() > 64) return false;
  double d = 0;
  auto [ptr, ec] = std::from_chars(s, p_, d);  // correctly rounded, as the parser's
  if (ec != std::errc() || ptr != p_) return false;
  const char* after = p_;
  p_ = s;
  Flush();
  json::AppendJsNumber(d, out_);
  p_ = copy_ = after;
  return true;
}

bool CanonicalTextDecoder::Value(uint32_t depth, const States& states) {
  if (p_ >= end_) return false;
  switch (*p_) {
    case '{': return Object(depth, states, Mode::kAny);
    case '[': return Array(depth, states);
    case '"': {
      std::string_view raw;
      return RawString(&raw);
    }
    case 't':
    case 'f':
    case 'n': {
      const std::string_view lit = *p_ == 't' ? "true" : *p_ == 'f' ? "false" : "null";
      if (static_cast<size_t>(end_ - p_) < lit.size() || std::memcmp(p_, lit.data(), lit.size()) != 0) return false;
      p_ += lit.size();
      return true;
    }
    default: return Number();
  }
}

void CanonicalTextDecoder::Match(const States& states, std::string_view key, bool* redact, States* child,
                                 bool key_lower) const {
  *redact = false;
  child->n = 0;
  child->sizes = 0;
  if (!MayMatch(states, key)) return;
  for (uint8_t i = 0; i < states.n; ++i) {
    const State& st = states.s[i];
    const Segment& seg = segments_[st.path][st.pos];
    // Lengths first: most member names differ from a path's segment in length already.
    const bool hit = seg.star || (key.size() == seg.text.size() &&
                                  (!st.headers       ? SameName(key, seg.text)
                                   : key_lower ? SameName(key, seg.lower)
                                               : internal::EqualsIgnoreCase(key, seg.text)));
    if (!hit) continue;
    if (seg.last) {
      *redact = true;
    } else {
      child->s[child->n++] = State{st.path, static_cast<uint8_t>(st.pos + 1), seg.headers};
      const Segment& next = segments_[st.path][st.pos + 1];
      child->sizes |= next.star ? ~uint64_t{0} : SizeBit(next.text.size());
    }
  }
}

bool CanonicalTextDecoder::Object(uint32_t depth, const States& states, Mode mode) {
  if (depth + 1 >= max_depth_) return false;
  // Chosen before GeneralObject's frame is set up (~30 instructions per object when
  // PlainObject was called from inside it).
  if (clean_ && mode == Mode::kAny && states.n == 0) return PlainObject(depth);
  return GeneralObject(depth, states, mode);
}

bool CanonicalTextDecoder::GeneralObject(uint32_t depth, const States& states, Mode mode) {
  ++p_;  // '{'
  SkipWs();
  if (p_ < end_ && *p_ == '}') {
    ++p_;
    return true;
  }
  // Duplicate names are merged by the parser (the last value at the first position): declined.
  constexpr size_t kMaxMembers = 64;
  // A plain struct, not std::string_view: an array of string_views is zeroed on every call
  // (1 KiB, a `rep stos` per object, ~12 objects per shop record), and only keys[0, n) is read.
  struct Name {
    const char* data;
    size_t size;
  };
  Name keys[kMaxMembers];
  size_t n = 0;
  // A bit per (length, last byte) of the names so far: a name whose bit is clear is no
  // duplicate, and the names are compared only when it is set (one test for most members
  // instead of a compare with every earlier one).
  uint64_t seen = 0;
  while (true) {  // at a member's name, whitespace before it skipped
    std::string_view key;
    if (!RawString(&key)) return false;
    if (n == kMaxMembers) return false;
    // The byte before an empty name is its opening quote: no test for the empty name.
    const unsigned char last = static_cast<unsigned char>(key.data()[static_cast<ptrdiff_t>(key.size()) - 1]);
    const uint64_t bit = uint64_t{1} << ((key.size() * 7 + last) & 63);
    if ((seen & bit) != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (SameName(std::string_view(keys[i].data, keys[i].size), key)) return false;
      }
    }
    seen |= bit;
    keys[n++] = Name{key.data(), key.size()};
    if (end_ - p_ >= 2 && *p_ == ':' && static_cast<unsigned char>(p_[1]) > ' ') {
      ++p_;  // compact input: the ':' and the value right after it, one test for both
    } else {
      if (!Colon()) return false;
      SkipWs();
      if (p_ >= end_) return false;
    }
    bool value_read = false;  // p_ after the value already
    if (mode != Mode::kAny) {
      // Headers the tree path uses as they are (lower-case names, string values), and query
      // parameters that are strings already.
      if (*p_ != '"') return false;
      if (mode == Mode::kHeaders) {
        if (key.empty() || key[0] == ':' || HasUpper(key)) return false;
        if (SameName(key, "content-type")) {
          const char* save = p_;
          if (!RawString(&content_type_)) return false;
          content_type_seen_ = true;
          // Read once when no redact path can hit it ("application/json" is 16 bytes, a slow
          // string: scanned twice it was ~100 instructions per shop record).
          value_read = !MayMatch(states, key);
          if (!value_read) p_ = save;
        }
      }
    }
    if (!value_read) {
      if (!MayMatch(states, key)) {
        // A string (most values here: header values, bodies' fields) is read at once, without
        // the call into Value and its dispatch (~15 instructions per member).
        std::string_view raw;
        if (*p_ == '"' ? !RawString(&raw) : !Value(depth + 1, none_)) return false;
      } else {
        bool redact;
        States child;
        Match(states, key, &redact, &child, /*key_lower=*/mode == Mode::kHeaders);  // HasUpper is false there
        if (!Redactable<&CanonicalTextDecoder::AnyValue>(depth + 1, child, redact)) return false;
      }
    }
    if (end_ - p_ >= 2 && *p_ == ',' && static_cast<unsigned char>(p_[1]) > ' ') {
      ++p_;  // compact input: the ',' and the next name right after it, one test for both
      continue;
    }
    SkipWs();
    if (p_ >= end_) return false;
    if (*p_ == ',') {
      ++p_;
      SkipWs();
      continue;
    }
    if (*p_ != '}') return false;
    ++p_;
    return true;
  }
}

bool CanonicalTextDecoder::PlainObject(uint32_t depth) {
  // What Object does for these (its comments say why), on a local pointer: p_ is a member that
  // the stores into keys[] and the calls may alias, so each step there loaded and stored it
  // again (~100 instructions per member; most members of a shop record are here: bodies,
  // client, gateway). Strings end at the next set bit of quotes_.
  const char* p = p_ + 1;  // '{'
  if (p < end_ && static_cast<unsigned char>(*p) <= ' ') {
    p_ = p;
    DropWs();
    p = p_;
  }
  if (p < end_ && *p == '}') {
    p_ = p + 1;
    return true;
  }
  // The end of the string opening at p (clean_: its closing quote), or null when it has none.
  auto string_end = [this](const char* open) -> const char* {
    const size_t at = static_cast<size_t>(open + 1 - base_);
    const uint64_t bits = quotes_[at / 64] >> (at % 64);
    if (bits != 0) return open + 1 + __builtin_ctzll(bits);
    p_ = open;
    std::string_view raw;
    return CleanStringFar(&raw) ? p_ - 1 : nullptr;
  };
  // The duplicate-name check of GeneralObject (see there), written out again rather than shared:
  // an always-inlined helper over these locals, tried at stop 26, cost 71-95 more instructions
  // per shop line (callgrind BM_IngestShop, 6,784 -> 6,855-6,879) in the two loops' codegen.
  constexpr size_t kMaxMembers = 64;
  struct Name {
    const char* data;
    size_t size;
  };
  Name keys[kMaxMembers];
  size_t n = 0;
  uint64_t seen = 0;
  while (true) {  // at a member's name, whitespace before it skipped
    if (p >= end_ || *p != '"') return false;
    const char* close;
    // The quote bits from the name's closing quote + 1 on (bit 0), as far as its word goes:
    // a string value right after '":' ends at the next of them, without a second lookup.
    uint64_t after = 0;
    {
      const size_t at = static_cast<size_t>(p + 1 - base_);
      const uint64_t bits = quotes_[at / 64] >> (at % 64);
      if (bits != 0) {
        const int size = __builtin_ctzll(bits);
        close = p + 1 + size;
        after = (bits >> size) >> 1;  // two shifts: size + 1 may be 64
      } else {
        close = string_end(p);
        if (close == nullptr) return false;
      }
    }
    const std::string_view key(p + 1, static_cast<size_t>(close - p - 1));
    p = close + 1;
    if (n == kMaxMembers) return false;
    const unsigned char last = static_cast<unsigned char>(close[-1]);  // the opening quote for ""
    const uint64_t bit = uint64_t{1} << ((key.size() * 7 + last) & 63);
    if ((seen & bit) != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (SameName(std::string_view(keys[i].data, keys[i].size), key)) return false;
      }
    }
    seen |= bit;
    keys[n++] = Name{key.data(), key.size()};
    if (end_ - p >= 2 && *p == ':' && static_cast<unsigned char>(p[1]) > ' ') {
      ++p;
    } else {
      p_ = p;
      if (!Colon()) return false;
      SkipWs();
      if (p_ >= end_) return false;
      p = p_;
    }
    if (*p == '"') {
      // after's bit 1 is this opening quote when the value follows '":' directly.
      const uint64_t rest = after >> 2;
      if (p == close + 2 && rest != 0) {
        p += 2 + __builtin_ctzll(rest);
      } else {
        close = string_end(p);
        if (close == nullptr) return false;
        p = close + 1;
      }
    } else {
      // Value's cases without the call into it (~8 values per shop record here: numbers, the
      // bodies' objects and arrays).
      p_ = p;
      bool ok;
      switch (*p) {
        case '{': ok = depth + 2 < max_depth_ && PlainObject(depth + 1); break;  // Object's check and choice
        case '[': ok = Array(depth + 1, none_); break;
        case 't':
        case 'f':
        case 'n': ok = Value(depth + 1, none_); break;
        default: ok = Number(); break;
      }
      if (!ok) return false;
      p = p_;
    }
    if (end_ - p >= 2 && *p == ',' && static_cast<unsigned char>(p[1]) > ' ') {
      ++p;
      continue;
    }
    p_ = p;
    SkipWs();
    p = p_;
    if (p >= end_) return false;
    if (*p == ',') {
      p_ = p + 1;
      SkipWs();
      p = p_;
      continue;
    }
    if (*p != '}') return false;
    p_ = p + 1;
    return true;
  }
}

bool CanonicalTextDecoder::Array(uint32_t depth, const States& states) {
  if (depth + 1 >= max_depth_) return false;
  ++p_;  // '['
  SkipWs();
  if (p_ < end_ && *p_ == ']') {
    ++p_;
    return true;
  }
  while (true) {
    SkipWs();
    // Redaction passes through arrays: their objects get the same paths.
    if (!Value(depth + 1, states)) return false;
    SkipWs();
    if (p_ >= end_) return false;
    if (*p_ == ',') {
      ++p_;
      continue;
    }
    if (*p_ != ']') return false;
    ++p_;
    return true;
  }
}

template <CanonicalTextDecoder::Writer write>
bool CanonicalTextDecoder::Redactable(uint32_t depth, const States& child, bool redact) {
  if (!redact) return (this->*write)(depth, child);
  Flush();  // the span's start in *out_
  const size_t at = out_->size();
  if (!(this->*write)(depth, child)) return false;
  Flush();
  redacted_.emplace_back(at, out_->size());
  return true;
}

template <CanonicalTextDecoder::Writer write>
bool CanonicalTextDecoder::Known(uint32_t depth, const States& child, bool redact) {
  if (!redact && child.n == 0) {
    if constexpr (write == &CanonicalTextDecoder::AnyValue) {
      if (p_ < end_ && *p_ == '"') {  // as in Member
        std::string_view raw;
        return RawString(&raw);
      }
    }
  }
  // `child` itself even when it is empty: Message knows its states by their address.
  return Redactable<write>(depth, child, redact);
}

template <CanonicalTextDecoder::Writer write>
bool CanonicalTextDecoder::Member(std::string_view key, uint32_t depth, const States& states) {
  if (!MayMatch(states, key)) {
    if constexpr (write == &CanonicalTextDecoder::AnyValue) {
      if (p_ < end_ && *p_ == '"') {  // as in Object: a string without the call into Value
        std::string_view raw;
        return RawString(&raw);
      }
    }
    return (this->*write)(depth, none_);
  }
  bool redact;
  States child;
  Match(states, key, &redact, &child);
  return Redactable<write>(depth, child, redact);
}

void CanonicalTextDecoder::Insert(const char* at, std::string_view key, std::string_view value, bool comma_before,
                                  const States& states) {
  FlushTo(at);
  if (comma_before) out_->push_back(',');
  out_->push_back('"');
  out_->append(key);
  out_->append("\":");
  bool redact = false;
  States child;
  if (states.n > 0) Match(states, key, &redact, &child);
  const size_t from = out_->size();
  out_->append(value);
  if (redact) redacted_.emplace_back(from, out_->size());
  if (!comma_before) out_->push_back(',');
}

bool CanonicalTextDecoder::ObjectValue(uint32_t depth, const States& states) {
  if (p_ >= end_ || *p_ != '{') return false;
  return Object(depth, states, Mode::kAny);
}

bool CanonicalTextDecoder::LiteralValue(uint32_t, const States&) {
  out_->append(literal_);  // the caller has flushed and skipped the input's value
  return true;
}

bool CanonicalTextDecoder::HeadersValue(uint32_t depth, const States& states) {
  if (p_ >= end_ || *p_ != '{') return false;
  return Object(depth, states, Mode::kHeaders);
}

bool CanonicalTextDecoder::QueryValue(uint32_t depth, const States& states) {
  if (p_ >= end_ || *p_ != '{') return false;
  return Object(depth, states, Mode::kQuery);
}

bool CanonicalTextDecoder::Message(bool is_request, const States& states) {
  if (p_ >= end_ || *p_ != '{') return false;
  ++p_;
  content_type_ = {};
  content_type_seen_ = false;
  constexpr uint32_t kDepth = 2;  // the members of request / response
  const size_t n_keys = is_request ? std::size(kRequestKeys) : std::size(kResponseKeys);
  size_t next = 0;  // the next key allowed (keys in the order written)
  std::string_view url;
  bool have_url = false;
  // Match's results for request's / response's members, when `states` are the ones the
  // constructor computed them under (Walk passes those); else Member matches each name.
  const KnownMatch* known = &states == &top_known_[3].child   ? request_known_
                            : &states == &top_known_[4].child ? response_known_
                                                              : nullptr;
  // Writes the members the input leaves out, up to key index `upto`, as the tree path writes
  // them, at input position `at` (before a member, or before the closing brace).
  auto fill = [&](size_t upto, const char* at, bool at_end) -> bool {
    for (size_t k = next; k < upto; ++k) {
      std::string_view key = is_request ? kRequestKeys[k] : kResponseKeys[k];
      const MessageMember member = is_request ? kRequestMembers[k] : kResponseMembers[k];
      if (member == kMethod || member == kPath || member == kStatus) return false;  // required
      if (member == kUrl) continue;  // written only when given
      std::string_view value = "{}";  // headers: none
      if (member == kQuery) {
        // Parsed from the URL's query part (the path has none): empty unless the URL has one.
        if (have_url && url.find('?') != std::string_view::npos) return false;
      } else if (member == kBody) {
        value = "null";
      }
      Insert(at, key, value, at_end, states);
    }
    return true;
  };
  SkipWs();
  if (p_ < end_ && *p_ == '}') return false;  // no method / status
  while (true) {
    SkipWs();
    const char* key_at = p_;
    std::string_view key;
    size_t k = n_keys;
    if (end_ - p_ >= 16) {
      k = is_request ? QuotedKeyIndex(kRequestQuoted, next, p_) : QuotedKeyIndex(kResponseQuoted, next, p_);
    }
    const bool compact = k < n_keys;  // '"name":' read already
    if (compact) {
      key = is_request ? kRequestKeys[k] : kResponseKeys[k];
      p_ += key.size() + 3;
    } else {
      if (!RawString(&key)) return false;
      k = is_request ? KeyIndex(kRequestKeys, next, key) : KeyIndex(kResponseKeys, next, key);
      if (k == n_keys) return false;
    }
    // Before the whitespace after the name is dropped: nothing from key_at on is written yet.
    if (!fill(k, key_at, false)) return false;
    next = k + 1;
    if (!compact && !Colon()) return false;
    SkipWs();
    if (p_ >= end_) return false;
    const char* save = p_;
    // kRead: the checks below read the whole value (a string, the status' digits), p_ after it.
    enum { kAnyWriter, kQueryWriter, kHeadersWriter, kLiteralWriter, kRead } writer = kRead;
    const MessageMember member = is_request ? kRequestMembers[k] : kResponseMembers[k];
    if (member == kMethod) {
      std::string_view m;
      if (!RawString(&m) || m.empty()) return false;
      for (char c : m) {
        if (c >= 'a' && c <= 'z') return false;  // the tree path upper-cases it
      }
    } else if (member == kUrl) {
      if (!RawString(&url)) return false;
      have_url = true;
    } else if (member == kPath) {
      std::string_view path;
      if (!RawString(&path) || path.empty()) return false;
      if (PathCut(path, end_)) return false;
    } else if (member == kQuery) {
      writer = kQueryWriter;
    } else if (member == kHeaders) {
      writer = kHeadersWriter;
    } else if (member == kStatus) {
      // An HTTP status code as its digits.
      const char* s = p_;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
      const size_t digits = static_cast<size_t>(p_ - s);
      if (digits == 0 || digits > 3 || (digits > 1 && *s == '0')) return false;
      if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    } else if (member == kBody) {
      if (*p_ == '"') {
        std::string_view body;
        if (!RawString(&body)) return false;
        if (body.empty()) {
          // An empty body is no body: null instead of the input's "".
          const char* after = p_;
          p_ = save;
          Flush();
          p_ = copy_ = after;
          literal_ = "null";
          writer = kLiteralWriter;
        } else if (body.size() > options_->max_body_bytes || (content_type_seen_ && ParsesStringBody(content_type_))) {
          return false;
        }
      } else {
        writer = kAnyWriter;
      }
    }
    bool ok = true;
    if (writer == kRead && known != nullptr && !known[k].redact && known[k].child.n == 0) {
      // Written as it is, and no redact path at it: the value is not read a second time.
    } else if (known != nullptr) {
      if (writer != kLiteralWriter) p_ = save;
      const KnownMatch& m = known[k];
      switch (writer) {
        case kHeadersWriter: ok = Known<&CanonicalTextDecoder::HeadersValue>(kDepth, m.child, m.redact); break;
        case kQueryWriter: ok = Known<&CanonicalTextDecoder::QueryValue>(kDepth, m.child, m.redact); break;
        case kLiteralWriter: ok = Known<&CanonicalTextDecoder::LiteralValue>(kDepth, m.child, m.redact); break;
        default: ok = Known<&CanonicalTextDecoder::AnyValue>(kDepth, m.child, m.redact); break;
      }
    } else {
      if (writer != kLiteralWriter) p_ = save;
      switch (writer) {
        case kHeadersWriter: ok = Member<&CanonicalTextDecoder::HeadersValue>(key, kDepth, states); break;
        case kQueryWriter: ok = Member<&CanonicalTextDecoder::QueryValue>(key, kDepth, states); break;
        case kLiteralWriter: ok = Member<&CanonicalTextDecoder::LiteralValue>(key, kDepth, states); break;
        default: ok = Member<&CanonicalTextDecoder::AnyValue>(key, kDepth, states); break;
      }
    }
    if (!ok) return false;
    SkipWs();
    if (p_ >= end_) return false;
    if (*p_ == ',') {
      ++p_;
      continue;
    }
    if (*p_ != '}') return false;
    if (!fill(n_keys, p_, true)) return false;
    ++p_;
    return true;
  }
}

bool CanonicalTextDecoder::Decode(std::string_view text, std::string* out, size_t* id_at, size_t* id_size) {
  bool deferred, paired;
  return Decode(text, out, id_at, id_size, nullptr, &deferred, &paired, nullptr);
}

bool CanonicalTextDecoder::Decode(std::string_view text, std::string* out, size_t* id_at, size_t* id_size,
                                  std::string* hash_later, bool* deferred, bool* paired, char* pending_digits) {
  *deferred = *paired = false;
  if (!usable_) return false;
  const size_t base = out->size();
  out_ = out;
  std::string_view id;
  if (!Walk(text, &id)) {
    out->resize(base);  // as it was
    return false;
  }
  Flush();
  *id_at = base + 7;  // after {"id":"
  if (id.empty()) {
    // The stable id: the record as decoded, before redaction ('{' and the members after the id
    // and the time given or not). Its '{' stands at hash_at_ for the hash, a ',' after it.
    // The hex digits go straight into their room after the 'x' (before hash_at_: the hashed
    // bytes are not written over).
    (*out)[hash_at_] = '{';
    const std::string_view hashed = std::string_view(*out).substr(hash_at_);
    char* const digits = out->data() + *id_at + 1;
    if (hash_later == nullptr) {
      Sha256Hex128To(hashed, digits);
    } else if (!hash_later->empty()) {
      Sha256Hex128PairTo(*hash_later, pending_digits, hashed, digits);
      *paired = true;
    } else {
      hash_later->append(hashed);  // before Redact changes it; the digits stay '0's
      *deferred = true;
    }
    (*out)[hash_at_] = ',';
    *id_size = 1 + kIdHexDigits;
  } else {
    *id_size = id.size();
  }
  if (!redacted_.empty()) Redact();
  return true;
}

void CanonicalTextDecoder::Prefix(std::string_view id, bool have_time) {
  // {"id":..,["time":..,] then the members after them. With no id given, the stable id's room:
  // 'x' and the 32 hex digits Sha256Hex128To writes, filled once the record is hashed.
  if (id.empty()) {
    // One append of the whole prefix (five appends and push_backs were ~70 instructions),
    // with the ',' the hashed text starts at when the input has the time.
    static constexpr char kRoom[] = "{\"id\":\"x00000000000000000000000000000000\",";
    static_assert(sizeof(kRoom) - 1 == 7 + 1 + kIdHexDigits + 2, "{\"id\":\" 'x', the digits' room, '\"' ','");
    if (have_time) {
      out_->append(kRoom, sizeof(kRoom) - 1);
      hash_at_ = out_->size() - 1;
      return;
    }
    out_->append(kRoom, sizeof(kRoom) - 2);
  } else {
    out_->append("{\"id\":\"");
    out_->append(id);
    out_->push_back('"');
  }
  if (!have_time) {
    out_->append(",\"time\":");
    json::AppendQuoted(FormatRfc3339Ms(options_->now_ms >= 0 ? options_->now_ms : WallClockMs()), out_);
  }
  hash_at_ = out_->size();
  out_->push_back(',');
}

void CanonicalTextDecoder::Redact() {
  // A span inside a redacted one is recorded before it: in text order, the outer one first.
  if (redacted_.size() > 1) {
    std::sort(redacted_.begin(), redacted_.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
  }
  // kRedacted as AppendQuoted writes it (quoted once here, not scanned for escapes per span).
  static const std::string quoted_redacted = [] {
    std::string q;
    json::AppendQuoted(kRedacted, &q);
    return q;
  }();
  const std::string_view r = quoted_redacted;
  std::string& out = *out_;
  const size_t end = out.size();
  // In place, front to back, when every replacement fits where the bytes before it were read
  // (redacted values are mostly longer than kRedacted); else the tail is rebuilt apart.
  bool in_place = true;
  {
    size_t pos = redacted_.front().first, w = pos;
    for (const auto& [from, to] : redacted_) {
      if (from < pos) continue;  // inside one already replaced
      w += from - pos + r.size();
      pos = to;
      if (w > pos) {
        in_place = false;
        break;
      }
    }
  }
  size_t pos = redacted_.front().first;
  if (in_place) {
    size_t w = pos;
    for (const auto& [from, to] : redacted_) {
      if (from < pos) continue;
      if (w != pos) std::memmove(out.data() + w, out.data() + pos, from - pos);
      w += from - pos;
      std::memcpy(out.data() + w, r.data(), r.size());
      w += r.size();
      pos = to;
    }
    std::memmove(out.data() + w, out.data() + pos, end - pos);
    out.resize(w + end - pos);
    return;
  }
  tail_.clear();
  const size_t first = pos;
  for (const auto& [from, to] : redacted_) {
    if (from < pos) continue;
    tail_.append(out, pos, from - pos);
    tail_.append(r);
    pos = to;
  }
  tail_.append(out, pos, std::string::npos);
  out.resize(first);
  out.append(tail_);
}

bool CanonicalTextDecoder::Walk(std::string_view text, std::string_view* id_out) {
  IndexStrings(text);
  p_ = text.data();
  end_ = p_ + text.size();
  dropping_ = false;
  redacted_.clear();
  if (p_ == end_ || *p_ != '{') return false;
  ++p_;
  copy_ = p_;  // nothing is written before the first member after the id (Prefix)
  std::string_view id;
  bool have_request = false, have_response = false, prefixed = false;
  size_t next = 0;
  SkipWs();
  if (p_ < end_ && *p_ == '}') return false;
  while (true) {
    SkipWs();
    const char* key_at = p_;
    size_t k = std::size(kTopKeys);
    if (end_ - p_ >= 16) k = QuotedKeyIndex(kTopQuoted, next, p_);
    const bool compact = k < std::size(kTopKeys);  // '"name":' read already (as in Message)
    if (compact) {
      p_ += kTopKeys[k].size() + 3;
    } else {
      std::string_view key;
      if (!RawString(&key)) return false;
      k = KeyIndex(kTopKeys, next, key);
      if (k == std::size(kTopKeys)) return false;
    }
    next = k + 1;
    if (k == 0) {
      // The id, as given (no hash): not in the hashed text, written in front by Prefix.
      dropping_ = true;
    } else if (!prefixed) {
      // The first member after the id: the id is known, and whether the input has a time (the
      // members come in kTopKeys' order). The hashed text goes on from this member's name.
      Prefix(id, /*have_time=*/k == 1);
      prefixed = true;
      copy_ = key_at;
    }
    if (!compact && !Colon()) return false;
    SkipWs();
    if (p_ >= end_) return false;
    bool ok = true;
    switch (k) {
      case 0:
        ok = RawString(&id) && !id.empty();
        break;
      case 1: {  // time: an RFC 3339 string, kept as given
        const char* save = p_;
        std::string_view t;
        if (!RawString(&t) || !IsRfc3339Ms(t)) return false;
        if (top_known_[k].redact || top_known_[k].child.n != 0) {  // else not read a second time
          p_ = save;
          ok = Known<&CanonicalTextDecoder::AnyValue>(1, top_known_[k].child, top_known_[k].redact);
        }
        break;
      }
      case 2:  // latency_ms: a number
        if (*p_ != '-' && !IsDigit(*p_)) return false;
        ok = Known<&CanonicalTextDecoder::AnyValue>(1, top_known_[k].child, top_known_[k].redact);
        break;
      case 3:
        have_request = true;
        ok = Known<&CanonicalTextDecoder::RequestValue>(1, top_known_[k].child, top_known_[k].redact);
        break;
      case 4:
        have_response = true;
        ok = Known<&CanonicalTextDecoder::ResponseValue>(1, top_known_[k].child, top_known_[k].redact);
        break;
      default:  // client, gateway: objects
        ok = Known<&CanonicalTextDecoder::ObjectValue>(1, top_known_[k].child, top_known_[k].redact);
        break;
    }
    if (!ok) return false;
    SkipWs();
    if (p_ >= end_) return false;
    if (*p_ == ',') {
      ++p_;
      if (k == 0) {
        dropping_ = false;
        copy_ = p_;
      }
      continue;
    }
    if (*p_ != '}') return false;
    ++p_;
    break;
  }
  *id_out = id;
  return p_ == end_ && have_request && have_response;
}

}  // namespace ec::pipeline
